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
// $7$<iterations>$<base64 salt>$<base64 PBKDF2-HMAC-SHA512>, so the same
// stored string serves the embedded broker and a generated Mosquitto passwd.
const (
	hashIterations = 101 // Mosquitto's default; secrets are 256 random bits, not passwords
	saltLen        = 12
	hashLen        = 64
)

// NewSecret returns a random node secret (256 bits, URL-safe base64).
func NewSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashSecret hashes a secret for storage.
func HashSecret(secret string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	h, err := pbkdf2.Key(sha512.New, secret, salt, hashIterations, hashLen)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("$7$%d$%s$%s", hashIterations, base64.StdEncoding.EncodeToString(salt), base64.StdEncoding.EncodeToString(h)), nil
}

// CheckSecret reports whether secret matches a stored hash.
func CheckSecret(hash, secret string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 5 || parts[0] != "" || parts[1] != "7" {
		return false
	}
	iter, err := strconv.Atoi(parts[2])
	if err != nil || iter < 1 || iter > 1_000_000 {
		return false
	}
	salt, err1 := base64.StdEncoding.DecodeString(parts[3])
	want, err2 := base64.StdEncoding.DecodeString(parts[4])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got, err := pbkdf2.Key(sha512.New, secret, salt, iter, len(want))
	return err == nil && subtle.ConstantTimeCompare(got, want) == 1
}
