package nodeproto

// Code is a fixed number on the wire saying why a node refused or failed
// something. Numbers are never reused; new ones are appended.
type Code int

const (
	CodeOK           Code = 0
	CodeMalformed    Code = 1001 // payload is not valid JSON or misses required fields
	CodeTooLarge     Code = 1002 // payload over its size limit
	CodeBadSignature Code = 1003 // signature missing or does not verify
	CodeUnknownKey   Code = 1004 // kid is not a pinned controller key
	CodeExpired      Code = 1005 // now is past Expires
	CodeReplayed     Code = 1006 // command id seen before, or desired rev not newer
	CodeWrongTarget  Code = 1007 // node/zone in the body does not match the topic or this node
	CodeUnsupported  Code = 1008 // unknown command type
	CodeContent      Code = 1009 // media could not be fetched in time
	CodeHashMismatch Code = 1010 // assembled media does not match its sha256
	CodeAudio        Code = 1011 // the audio device or decoder failed
	CodeDiskFull     Code = 1012 // no room in the cache for this media
	CodeInvalid      Code = 1013 // fields present but out of range
	CodeClock        Code = 1014 // the node's clock is not set, or is behind the sender's
)

var codeNames = map[Code]string{
	CodeOK:           "ok",
	CodeMalformed:    "malformed",
	CodeTooLarge:     "too_large",
	CodeBadSignature: "bad_signature",
	CodeUnknownKey:   "unknown_key",
	CodeExpired:      "expired",
	CodeReplayed:     "replayed",
	CodeWrongTarget:  "wrong_target",
	CodeUnsupported:  "unsupported",
	CodeContent:      "content_unavailable",
	CodeHashMismatch: "hash_mismatch",
	CodeAudio:        "audio_error",
	CodeDiskFull:     "disk_full",
	CodeInvalid:      "invalid",
	CodeClock:        "clock",
	CodeUpdateFailed: "update_failed",
}

// String returns the code's stable name, e.g. "bad_signature".
func (c Code) String() string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return "unknown"
}

// Error is a protocol error with its wire code.
type Error struct {
	Code   Code
	Reason string
}

func (e *Error) Error() string { return e.Code.String() + ": " + e.Reason }

// Errf builds an *Error.
func Errf(c Code, reason string) *Error { return &Error{Code: c, Reason: reason} }
