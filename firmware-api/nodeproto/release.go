package nodeproto

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"regexp"
)

// CmdUpdate asks a node to install a release of its own software
// (PROTOCOL.md §5, "update"): Command.Update names it.
const CmdUpdate = "update"

// CodeUpdateFailed (1015) is a node's reply to an update it could not
// carry out: the release did not verify against its update key, the binary
// did not match the manifest, or the new version did not become healthy
// and the node went back to the version it ran before.
const CodeUpdateFailed Code = 1015

// ReleaseSignContext is prepended to a release manifest before signing:
// a manifest signature can never be taken for a command's, or the reverse,
// even if one key were (wrongly) used for both.
const ReleaseSignContext = "radio/v1 release\n"

// Release is the manifest of a node release: what the update key signs.
// The binary is fetched as a media file whose name is SHA256 (§6).
type Release struct {
	Version string `json:"version"`
	Arch    string `json:"arch"` // GOARCH (+ GOARM): amd64, arm64, arm
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"`
}

// Update is the body of an update command: the release manifest exactly as
// signed by the controller's update key (Msg), that key's id and signature.
// A node MUST verify Sig with its pinned update key before it fetches or
// runs anything, and the fetched binary against Release.SHA256 and Size.
type Update struct {
	Rollout string   `json:"rollout"` // the rollout this command belongs to (for reports)
	Release Envelope `json:"release"`
}

// MaxVersion bounds Release.Version and Release.Arch.
const MaxVersion = 64

var versionRE = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z.+~_-]*$`)

// Validate checks a manifest's fields.
func (r *Release) Validate() error {
	if len(r.Version) > MaxVersion || !versionRE.MatchString(r.Version) {
		return invalid("release version %q", r.Version)
	}
	if len(r.Arch) > MaxVersion || !versionRE.MatchString(r.Arch) {
		return invalid("release arch %q", r.Arch)
	}
	if err := checkMedia(r.SHA256, r.Size); err != nil {
		return err // not the *Error itself: a nil one would not be a nil error
	}
	return nil
}

// SignRelease signs a manifest with an update key.
func SignRelease(kid string, priv ed25519.PrivateKey, r Release) (Envelope, error) {
	if err := r.Validate(); err != nil {
		return Envelope{}, err
	}
	msg, err := json.Marshal(r)
	if err != nil {
		return Envelope{}, fmt.Errorf("nodeproto: sign release: %w", err)
	}
	return Envelope{KID: kid, Msg: msg, Sig: ed25519.Sign(priv, releaseSigned(msg))}, nil
}

func releaseSigned(msg []byte) []byte {
	b := make([]byte, 0, len(ReleaseSignContext)+len(msg))
	return append(append(b, ReleaseSignContext...), msg...)
}

// OpenRelease verifies a signed manifest against the update keys and
// returns it. Errors are *Error: CodeUnknownKey, CodeBadSignature,
// CodeMalformed or CodeInvalid.
func (k Keyring) OpenRelease(env Envelope) (Release, error) {
	var r Release
	if len(env.Sig) == 0 || len(env.Msg) == 0 {
		return r, Errf(CodeBadSignature, "unsigned release")
	}
	pub, ok := k[env.KID]
	if !ok || len(pub) != ed25519.PublicKeySize {
		return r, Errf(CodeUnknownKey, fmt.Sprintf("update key %q is not trusted", env.KID))
	}
	if !ed25519.Verify(pub, releaseSigned(env.Msg), env.Sig) {
		return r, Errf(CodeBadSignature, "release signature does not verify against the update key")
	}
	if err := Decode(env.Msg, &r); err != nil {
		return r, Errf(CodeMalformed, err.Error())
	}
	if err := r.Validate(); err != nil {
		return r, err
	}
	return r, nil
}

func (u *Update) validate() *Error {
	if u.Rollout != "" && !ValidID(u.Rollout) {
		return invalid("update rollout %q", u.Rollout)
	}
	if len(u.Release.Msg) == 0 || len(u.Release.Sig) == 0 || u.Release.KID == "" {
		return Errf(CodeBadSignature, "update without a signed release manifest")
	}
	return nil
}
