package broker

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// Secrets are stored in Mosquitto 2's password-file format,
//
//	$7$<iterations>$<base64 salt>$<base64 PBKDF2-HMAC-SHA512>
//
// (standard base64 with padding, as mosquitto_passwd writes it), so the
// same stored string serves the embedded broker and a generated passwd.
const (
	// Mosquitto's own default. Node secrets are 256 random bits, not
	// passwords, so key stretching adds nothing; more iterations would
	// only slow down reconnect storms of thousands of nodes.
	hashIterations = 101
	saltLen        = 12 // as mosquitto_passwd
	hashLen        = 64 // SHA-512 output
	maxIterations  = 1_000_000
)

// NewSecret returns a random node secret: 32 random bytes, URL-safe base64
// without padding (43 characters, safe in a password file and a URL).
func NewSecret() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails since Go 1.24 (it crashes the program instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashSecret hashes a secret for storage, with a fresh random salt.
func HashSecret(secret string) (string, error) {
	salt := make([]byte, saltLen)
	rand.Read(salt)
	h, err := pbkdf2.Key(sha512.New, secret, salt, hashIterations, hashLen)
	if err != nil {
		return "", fmt.Errorf("broker: hash secret: %w", err)
	}
	return fmt.Sprintf("$7$%d$%s$%s", hashIterations,
		base64.StdEncoding.EncodeToString(salt), base64.StdEncoding.EncodeToString(h)), nil
}

// CheckSecret reports whether secret matches a stored hash. It accepts any
// $7$ hash mosquitto_passwd writes, and false for anything malformed.
func CheckSecret(hash, secret string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 5 || parts[0] != "" || parts[1] != "7" {
		return false
	}
	iter, err := strconv.Atoi(parts[2])
	if err != nil || iter < 1 || iter > maxIterations {
		return false
	}
	salt, err1 := base64.StdEncoding.DecodeString(parts[3])
	want, err2 := base64.StdEncoding.DecodeString(parts[4])
	if err1 != nil || err2 != nil || len(salt) == 0 || len(want) != hashLen {
		return false
	}
	got, err := pbkdf2.Key(sha512.New, secret, salt, iter, len(want))
	return err == nil && subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is checked against for unknown nodes, so that a refusal takes
// as long whether or not the node exists.
var dummyHash = func() string {
	h, _ := HashSecret(NewSecret())
	return h
}()
