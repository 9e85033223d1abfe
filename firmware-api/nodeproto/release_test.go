package nodeproto

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func exampleUpdateKey() ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("radio/v1 example update key"))
	return ed25519.NewKeyFromSeed(seed[:])
}

// The update example of PROTOCOL.md carries a manifest that verifies
// against the documented example update key.
func TestUpdateExampleVerifies(t *testing.T) {
	ring := Keyring{"upd-2026": exampleUpdateKey().Public().(ed25519.PublicKey)}
	found := false
	for _, ex := range protocolExamples(t) {
		if ex.kind != "Command" || !strings.Contains(ex.body, `"update"`) {
			continue
		}
		found = true
		var c Command
		if err := json.Unmarshal([]byte(ex.body), &c); err != nil {
			t.Fatal(err)
		}
		r, err := ring.OpenRelease(c.Update.Release)
		if err != nil || r.Version != "1.4.0" || r.Arch != "arm64" {
			t.Fatalf("line %d: release %+v: %v", ex.line, r, err)
		}
	}
	if !found {
		t.Fatal("PROTOCOL.md has no update command example")
	}
}

// A manifest verifies only with the update key that signed it, only
// unchanged, and never as a command (the prefixes differ).
func TestOpenReleaseRejects(t *testing.T) {
	upd := exampleUpdateKey()
	ring := Keyring{"upd": upd.Public().(ed25519.PublicKey)}
	rel := Release{Version: "1.2.0", Arch: "arm64", Size: 1000, SHA256: strings.Repeat("ab", 32)}
	good, err := SignRelease("upd", upd, rel)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ring.OpenRelease(good); err != nil || got != rel {
		t.Fatalf("good release: %+v %v", got, err)
	}
	_, other, _ := ed25519.GenerateKey(nil)
	byOther, _ := SignRelease("upd", other, rel)
	unknownKid, _ := SignRelease("other", other, rel)
	tampered := good
	tampered.Msg = []byte(strings.Replace(string(good.Msg), `"size":1000`, `"size":1001`, 1))
	// The command key's signature over the same bytes, as a command.
	asCommand := good
	asCommand.Sig = ed25519.Sign(upd, append([]byte(SignContext), good.Msg...))
	for _, tc := range []struct {
		name string
		env  Envelope
		code Code
	}{
		{"signed by another key", byOther, CodeBadSignature},
		{"unknown kid", unknownKid, CodeUnknownKey},
		{"manifest changed after signing", tampered, CodeBadSignature},
		{"signed as a command", asCommand, CodeBadSignature},
		{"unsigned", Envelope{KID: "upd", Msg: good.Msg}, CodeBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ring.OpenRelease(tc.env)
			var pe *Error
			if !errors.As(err, &pe) || pe.Code != tc.code {
				t.Errorf("got %v, want code %s", err, tc.code)
			}
		})
	}
	if _, err := SignRelease("upd", upd, Release{Version: "1.0 beta", Arch: "arm64", Size: 1, SHA256: rel.SHA256}); err == nil {
		t.Error("a version with a space was signed")
	}
}
