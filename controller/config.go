// Package controller is the central controller: registry, media, the node
// protocol over MQTT (with an embedded broker by default) and the HTTP API.
// Run is its entry point; cmd/radio-controller only turns flags into a Config.
package controller

import (
	"log/slog"
	"time"
)

// Config of the controller. The zero value plus a DataDir is usable.
type Config struct {
	DataDir  string // registry, media, keys; default ./data
	HTTPAddr string // default 127.0.0.1:8080
	// MetricsAddr is where /metrics (Prometheus text format) is served, on
	// a listener of its own with no login, apart from the API: bind it to
	// loopback or a private interface that only Prometheus reaches. Empty:
	// no metrics listener.
	MetricsAddr string
	// MQTTAddr is where the embedded broker listens (default 127.0.0.1:1883;
	// use 0.0.0.0:1883 for real nodes). Ignored when BrokerURL is set.
	MQTTAddr string
	// BrokerURL selects an external broker (e.g. Mosquitto) instead of the
	// embedded one, e.g. tcp://127.0.0.1:1883.
	BrokerURL string
	// MosquittoDir, with BrokerURL, is where the controller writes
	// mosquitto.conf, passwd and acl for the external broker, rewritten on
	// every enrolment, revocation and zone change (send mosquitto SIGHUP, or
	// set MosquittoPIDFile, to reload).
	MosquittoDir string
	// MosquittoPIDFile, if set, names the pid file of the Mosquitto process
	// to send SIGHUP after the files change.
	MosquittoPIDFile string
	// MosquittoUser is the account Mosquitto drops to when started as root
	// (its `user` option); it must be able to read MosquittoDir.
	MosquittoUser string
	// NodeBroker is the broker URL written into enrolled nodes' configs
	// (default: derived from MQTTAddr or BrokerURL).
	NodeBroker string
	Logger     *slog.Logger
	Version    string
	// PlayLead is how far ahead "play now" is scheduled so that every node
	// of a zone starts together (default 4 s).
	PlayLead time.Duration
	// LiveLatency is how far ahead of the moment a live session or relay
	// opens its first sample is heard (default 1.5 s): the time for the
	// command and first packets to reach every node.
	LiveLatency time.Duration
	// VoiceLatency is the same for an officer speaking live from the
	// browser (default 600 ms): shorter, since people in the room hear the
	// officer and the speakers at once; raise it for links with more jitter.
	VoiceLatency time.Duration
	// RelayRetryMax bounds the wait between a relay's reconnections to a
	// dropped upstream (default 30 s; they start at 1 s, or at this if
	// smaller, and double): every second of it is silence on the air.
	RelayRetryMax time.Duration
	// MaxUpload bounds an uploaded recording (default 100 MiB).
	MaxUpload int64
	// SchedulesDir holds the programme files (*.radio); default DataDir/schedules.
	SchedulesDir string
	// ScheduleGrace: occurrences due at most this long ago when the
	// controller starts are still sent to nodes (default 10 min).
	ScheduleGrace time.Duration
	// TLSCert and TLSKey (PEM files) turn on HTTPS for the API and, with
	// MQTTTLSAddr, a TLS listener of the embedded broker for nodes.
	TLSCert, TLSKey string
	MQTTTLSAddr     string
	// TrustProxy: the API is behind a reverse proxy (nginx, Caddy) on the
	// same machine, which terminates TLS and sets X-Forwarded-For and
	// X-Forwarded-Proto. Then the client's address (audit log, login
	// limits) and whether it came over HTTPS (Secure cookies) are read
	// from those headers, when the connection comes from loopback.
	TrustProxy bool
	// RetainMonths is how long proof of play, the audit log, commands and
	// their replies are kept; recordings nothing inside that window (nor a
	// programme, nor an unexpired command) names go too. 0 means the
	// minimum, 13 months (a yearly report needs them); fewer is refused.
	RetainMonths int
	// TTSCommand is a command template for text to speech instead of
	// espeak-ng, run without a shell: {out} is the audio file it writes,
	// {text} a file holding the text ("< {text}" sends it to stdin), e.g.
	// "piper --model /opt/vi.onnx --output_file {out} < {text}".
	TTSCommand string
	// TTSURL is a speech service that takes the text in a POST and answers
	// with audio (instead of espeak-ng); TTSHeader lines ("Key: value")
	// go with each request (an API key).
	TTSURL    string
	TTSHeader []string
	// TTSTimeout bounds one rendering (default 60 s).
	TTSTimeout time.Duration
	// Now is the clock of the whole controller: registry, scheduler, API,
	// fleet (nil: time.Now). Tests give a fake one.
	Now func() time.Time
	// Ready, if set, receives the HTTP and MQTT addresses once serving.
	Ready func(httpAddr, mqttAddr string)
	// desiredDone, for the start benchmark, is called once the desired
	// state queued at start is all published.
	desiredDone func()
}
