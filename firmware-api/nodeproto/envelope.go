package nodeproto

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
)

// SignContext is prepended to Msg before signing, so that a signature made
// for this protocol can never be mistaken for one over anything else.
const SignContext = "radio/v1 signed\n"

// Envelope wraps a signed message (Command or Desired). Msg holds the exact
// JSON bytes that were signed; Sig is Ed25519(SignContext || Msg) by the key
// named KID. Both are base64 (standard, padded) in JSON.
type Envelope struct {
	KID string `json:"kid"`
	Msg []byte `json:"msg"`
	Sig []byte `json:"sig"`
}

// Sign marshals body and returns the JSON of its Envelope.
func Sign(kid string, priv ed25519.PrivateKey, body any) ([]byte, error) {
	msg, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("nodeproto: sign: %w", err)
	}
	return json.Marshal(Envelope{KID: kid, Msg: msg, Sig: ed25519.Sign(priv, signed(msg))})
}

func signed(msg []byte) []byte {
	b := make([]byte, 0, len(SignContext)+len(msg))
	return append(append(b, SignContext...), msg...)
}

// Keyring holds the controller public keys a node trusts, by key id.
type Keyring map[string]ed25519.PublicKey

// Open verifies an Envelope payload and decodes its message into out.
// Errors are *Error with CodeTooLarge, CodeMalformed, CodeUnknownKey or
// CodeBadSignature.
func (k Keyring) Open(payload []byte, out any) error {
	var env Envelope
	if err := Decode(payload, &env); err != nil {
		if len(payload) > MaxJSONPayload {
			return Errf(CodeTooLarge, err.Error())
		}
		return Errf(CodeMalformed, err.Error())
	}
	if len(env.Sig) == 0 || len(env.Msg) == 0 {
		return Errf(CodeBadSignature, "unsigned message")
	}
	pub, ok := k[env.KID]
	if !ok || len(pub) != ed25519.PublicKeySize {
		return Errf(CodeUnknownKey, fmt.Sprintf("key %q is not trusted", env.KID))
	}
	if !ed25519.Verify(pub, signed(env.Msg), env.Sig) {
		return Errf(CodeBadSignature, "signature does not verify")
	}
	if err := Decode(env.Msg, out); err != nil {
		return Errf(CodeMalformed, err.Error())
	}
	return nil
}

// PeekID returns the id inside an Envelope's message without verifying the
// signature, or "". It is only for naming a refused message in a Reply;
// nothing may act on it.
func PeekID(payload []byte) string {
	var env Envelope
	if len(payload) > MaxJSONPayload || json.Unmarshal(payload, &env) != nil {
		return ""
	}
	var m struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(env.Msg, &m) != nil || !ValidID(m.ID) {
		return ""
	}
	return m.ID
}
