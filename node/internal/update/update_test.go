package update

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

func TestCompareVersions(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"1.10.0", "1.9.2", 1},
		{"1.2.0", "1.2.0", 0},
		{"1.2.0", "1.2.1", -1},
		{"0.1.0-dev", "1.0.0", -1},
		{"2", "10", -1},
		{"1.2.0-rc2", "1.2.0-rc10", -1},
	} {
		if got := CompareVersions(tc.a, tc.b); got != tc.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(b)
}

// Commit swaps by rename and keeps what it replaced; Rollback puts that back.
func TestCommitAndRollback(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "radio-node")
	write(t, bin, "A")
	write(t, bin+StagedSuffix, "B")
	if err := Commit(bin, bin+StagedSuffix); err != nil {
		t.Fatal(err)
	}
	if read(t, bin) != "B" || read(t, bin+PreviousSuffix) != "A" {
		t.Fatalf("after commit: binary %q previous %q, want B and A", read(t, bin), read(t, bin+PreviousSuffix))
	}
	if _, err := os.Stat(bin + StagedSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("staged file still there: %v", err)
	}
	write(t, bin+StagedSuffix, "C")
	if err := Commit(bin, bin+StagedSuffix); err != nil {
		t.Fatal(err)
	}
	if read(t, bin) != "C" || read(t, bin+PreviousSuffix) != "B" {
		t.Fatalf("second commit: binary %q previous %q, want C and B", read(t, bin), read(t, bin+PreviousSuffix))
	}
	if err := Rollback(bin); err != nil {
		t.Fatal(err)
	}
	if read(t, bin) != "B" || read(t, bin+".failed") != "C" {
		t.Fatalf("after rollback: binary %q failed %q, want B and C", read(t, bin), read(t, bin+".failed"))
	}
	if err := Rollback(bin); err == nil {
		t.Error("a second rollback with no previous binary succeeded")
	}
}

// published records what the updater sends, and can answer fetches.
type published struct {
	mu      sync.Mutex
	replies []nodeproto.Reply
	fetches []nodeproto.Fetch
	onFetch func(nodeproto.Fetch)
}

func (p *published) publish(topic string, _ bool, b []byte) error {
	_, leaf, _ := nodeproto.ParseNodeTopic(topic)
	p.mu.Lock()
	on := p.onFetch
	switch leaf {
	case nodeproto.LeafReply:
		var r nodeproto.Reply
		json.Unmarshal(b, &r)
		p.replies = append(p.replies, r)
	case nodeproto.LeafFetch:
		var f nodeproto.Fetch
		json.Unmarshal(b, &f)
		p.fetches = append(p.fetches, f)
		p.mu.Unlock()
		if on != nil {
			on(f)
		}
		return nil
	}
	p.mu.Unlock()
	return nil
}

func (p *published) lastReply() (nodeproto.Reply, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.replies) == 0 {
		return nodeproto.Reply{}, false
	}
	return p.replies[len(p.replies)-1], true
}

type fixture struct {
	dir, bin string
	key      ed25519.PrivateKey
	pub      *published
	now      time.Time // the node's wall clock, which a correction moves
	mono     time.Time // elapsed time, which nothing moves
}

func newFixture(t *testing.T) *fixture {
	dir := t.TempDir()
	seed := sha256.Sum256([]byte("update test key"))
	f := &fixture{dir: dir, bin: filepath.Join(dir, "radio-node"), key: ed25519.NewKeyFromSeed(seed[:]), pub: &published{},
		now: time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC), mono: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}
	write(t, f.bin, "version A")
	return f
}

func (f *fixture) updater(version, exe string) *Updater {
	return New(Config{Node: "n1", Version: version, Arch: "arm64", Binary: f.bin, DataDir: f.dir,
		Keys: nodeproto.Keyring{"upd": f.key.Public().(ed25519.PublicKey)}, Publish: f.pub.publish,
		HealthWait: time.Minute, ChunkRate: 1000, Now: func() time.Time { return f.now }, Mono: func() time.Time { return f.mono },
		Executable: exe}, nodeproto.AudioSilent)
}

func (f *fixture) command(t *testing.T, key ed25519.PrivateKey, rel nodeproto.Release) *nodeproto.Command {
	env, err := nodeproto.SignRelease("upd", key, rel)
	if err != nil {
		t.Fatal(err)
	}
	return &nodeproto.Command{ID: "c-upd-1", Type: nodeproto.CmdUpdate, Node: "n1", Update: &nodeproto.Update{Release: env}}
}

func manifest(version string, bin []byte) nodeproto.Release {
	sum := sha256.Sum256(bin)
	return nodeproto.Release{Version: version, Arch: "arm64", Size: int64(len(bin)), SHA256: hex.EncodeToString(sum[:])}
}

// serve answers fetches with chunks of served (named as media).
func (f *fixture) serve(u *Updater, media string, served []byte) {
	f.pub.mu.Lock()
	f.pub.onFetch = func(req nodeproto.Fetch) {
		for _, i := range req.Chunks {
			end := min(len(served), (i+1)*nodeproto.ChunkSize)
			b, _ := nodeproto.MarshalChunk(nodeproto.Chunk{Media: media, Index: i, Count: nodeproto.ChunkCount(int64(len(served))),
				Size: int64(len(served)), Data: served[i*nodeproto.ChunkSize : end]})
			u.Chunk(b)
		}
	}
	f.pub.mu.Unlock()
}

func result(t *testing.T, u *Updater) Result {
	t.Helper()
	select {
	case r := <-u.Done():
		return r
	case <-time.After(time.Minute):
		t.Fatal("no result from the download")
	}
	return Result{}
}

// Nothing is fetched or installed for a release that does not verify
// against the update key, or that would go backwards.
func TestBeginRefuses(t *testing.T) {
	f := newFixture(t)
	u := f.updater("1.1.0", f.bin)
	_, other, _ := ed25519.GenerateKey(nil)
	bin := []byte("version B")
	for _, tc := range []struct {
		name string
		c    *nodeproto.Command
		code nodeproto.Code
	}{
		{"signed by another key", f.command(t, other, manifest("1.2.0", bin)), nodeproto.CodeBadSignature},
		{"older version (replayed update)", f.command(t, f.key, manifest("1.0.0", bin)), nodeproto.CodeUpdateFailed},
		{"other arch", f.command(t, f.key, nodeproto.Release{Version: "1.2.0", Arch: "amd64", Size: 9, SHA256: manifest("", bin).SHA256}), nodeproto.CodeUpdateFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := u.Begin(tc.c)
			var pe *nodeproto.Error
			if !errors.As(err, &pe) || pe.Code != tc.code {
				t.Fatalf("got %v, want %s", err, tc.code)
			}
		})
	}
	tampered := f.command(t, f.key, manifest("1.2.0", bin))
	tampered.Update.Release.Msg = bytes.Replace(tampered.Update.Release.Msg, []byte("1.2.0"), []byte("1.9.0"), 1)
	if err := u.Begin(tampered); err == nil {
		t.Error("a manifest changed after signing was accepted")
	}
	noKeys := New(Config{Node: "n1", Version: "1.1.0", Arch: "arm64", Binary: f.bin, DataDir: f.dir, Publish: f.pub.publish}, "")
	if err := noKeys.Begin(f.command(t, f.key, manifest("1.2.0", bin))); err == nil {
		t.Error("a node without an update key accepted an update")
	}
	if len(f.pub.fetches) != 0 {
		t.Errorf("fetched %d times for refused releases", len(f.pub.fetches))
	}
	if read(t, f.bin) != "version A" {
		t.Error("the installed binary changed")
	}
}

// A binary that does not match the signed manifest is not staged.
func TestDownloadRefusesTamperedBinary(t *testing.T) {
	f := newFixture(t)
	u := f.updater("1.1.0", f.bin)
	good := bytes.Repeat([]byte("B"), 3*nodeproto.ChunkSize+100)
	rel := manifest("1.2.0", good)
	bad := bytes.Clone(good)
	bad[nodeproto.ChunkSize+5] ^= 1 // each chunk is self-consistent; the file is not the signed one
	f.serve(u, rel.SHA256, bad)
	if err := u.Begin(f.command(t, f.key, rel)); err != nil {
		t.Fatal(err)
	}
	r := result(t, u)
	if r.Err == nil || r.Restart != "" || !strings.Contains(r.Err.Error(), "does not match the signed manifest") {
		t.Fatalf("result %+v, want a refusal", r)
	}
	if bin := u.Finish(r, nodeproto.AudioSilent); bin != "" {
		t.Fatalf("Finish asks to restart into %q", bin)
	}
	if rep, ok := f.pub.lastReply(); !ok || rep.OK || rep.Code != nodeproto.CodeUpdateFailed || rep.Cmd != "c-upd-1" {
		t.Errorf("reply %+v, want update_failed", rep)
	}
	for _, p := range []string{f.bin + StagedSuffix, f.bin + PartSuffix} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind: %v", p, err)
		}
	}
}

// The whole path: fetch and stage, trial, healthy commit, reply ok.
func TestTrialCommits(t *testing.T) {
	f := newFixture(t)
	u := f.updater("1.1.0", f.bin)
	newBin := bytes.Repeat([]byte("version B "), 5000)
	rel := manifest("1.2.0", newBin)
	f.serve(u, rel.SHA256, newBin)
	if err := u.Begin(f.command(t, f.key, rel)); err != nil {
		t.Fatal(err)
	}
	r := result(t, u)
	staged := u.Finish(r, nodeproto.AudioSilent)
	if staged != f.bin+StagedSuffix || read(t, staged) != string(newBin) {
		t.Fatalf("restart into %q (%v)", staged, r.Err)
	}
	if read(t, f.bin) != "version A" {
		t.Fatal("the installed binary was replaced before the trial")
	}
	// The new version starts from the staged path.
	trial := f.updater("1.2.0", staged)
	if !trial.Trial() {
		t.Fatal("the new version does not know it is on trial")
	}
	trial.LinkUp()
	if read(t, f.bin) != string(newBin) || read(t, f.bin+PreviousSuffix) != "version A" {
		t.Fatal("a healthy trial did not install itself keeping the previous binary")
	}
	if rep, ok := f.pub.lastReply(); !ok || !rep.OK || rep.Cmd != "c-upd-1" {
		t.Errorf("reply %+v, want ok for c-upd-1", rep)
	}
	if _, err := os.Stat(filepath.Join(f.dir, markerFile)); !errors.Is(err, os.ErrNotExist) {
		t.Error("trial marker left after the outcome was reported")
	}
}

// startTrial stages version 1.2.0 as version 1.1.0 (whose audio output
// was audio) does once it fetched it, and returns the staged path.
func (f *fixture) startTrial(t *testing.T, audio string) string {
	t.Helper()
	staged := f.bin + StagedSuffix
	write(t, staged, "version B")
	old := f.updater("1.1.0", f.bin)
	old.fetch = &download{rel: nodeproto.Release{Version: "1.2.0"}}
	if got := old.Finish(Result{Cmd: "c-upd-1", Restart: staged}, audio); got != staged {
		t.Fatalf("Finish = %q", got)
	}
	return staged
}

// A trial that never becomes healthy hands back to the installed binary,
// which reports the failure.
func TestTrialUnhealthyGoesBack(t *testing.T) {
	f := newFixture(t)
	staged := f.startTrial(t, "alsa")
	trial := f.updater("1.2.0", staged) // its audio opened silent where A had a device
	trial.LinkUp()
	if read(t, f.bin) != "version A" {
		t.Fatal("an unhealthy trial installed itself")
	}
	f.now, f.mono = f.now.Add(30*time.Second), f.mono.Add(30*time.Second)
	trial.Tick()
	select {
	case r := <-trial.Done():
		t.Fatalf("gave up before the deadline: %+v", r)
	default:
	}
	f.now, f.mono = f.now.Add(time.Minute), f.mono.Add(time.Minute)
	trial.Tick()
	r := <-trial.Done()
	if r.Restart != f.bin {
		t.Fatalf("after the deadline: %+v, want a restart into the installed binary", r)
	}
	back := f.updater("1.1.0", f.bin)
	back.Tick()
	rep, ok := f.pub.lastReply()
	if !ok || rep.OK || rep.Code != nodeproto.CodeUpdateFailed || !strings.Contains(rep.Reason, "audio output did not open") {
		t.Fatalf("reply %+v, want update_failed about the audio", rep)
	}
	if _, err := os.Stat(staged); !errors.Is(err, os.ErrNotExist) {
		t.Error("the failed version is still staged")
	}
}

// A version that crashes at start never runs the updater: the service
// manager starts the installed binary again, which finds the unconfirmed
// marker.
func TestTrialCrashReported(t *testing.T) {
	f := newFixture(t)
	f.startTrial(t, nodeproto.AudioSilent)
	// (exec; the new version exits at once; systemd restarts the installed binary)
	back := f.updater("1.1.0", f.bin)
	if back.Trial() {
		t.Fatal("the installed version thinks it is on trial")
	}
	back.LinkUp()
	rep, ok := f.pub.lastReply()
	if !ok || rep.OK || rep.Code != nodeproto.CodeUpdateFailed || !strings.Contains(rep.Reason, "stopped before it was healthy") {
		t.Fatalf("reply %+v", rep)
	}
	if read(t, f.bin) != "version A" {
		t.Error("the installed binary changed")
	}
	again := f.updater("1.1.0", f.bin)
	again.LinkUp()
	if n := len(f.pub.replies); n != 1 {
		t.Errorf("%d replies, want the failure reported once", n)
	}
}

// The trial's deadline is elapsed time, not the node's wall clock: the
// exec'd version starts unsynchronised and its clock is corrected (NTP,
// or the controller's time) while it is on trial; a jump of the date
// neither ends the trial at once nor stretches it. The outcome's reply is
// dated on the node's clock.
func TestTrialDeadlineIgnoresClockCorrection(t *testing.T) {
	for _, jump := range []time.Duration{3 * time.Hour, -3 * time.Hour} {
		t.Run(jump.String(), func(t *testing.T) {
			f := newFixture(t)
			staged := f.startTrial(t, "alsa")
			trial := f.updater("1.2.0", staged) // unhealthy: silent where A had a device
			f.now, f.mono = f.now.Add(jump), f.mono.Add(time.Second)
			trial.Tick()
			select {
			case r := <-trial.Done():
				t.Fatalf("the clock moved by %s one second into the trial and it gave up: %+v", jump, r)
			default:
			}
			f.mono = f.mono.Add(time.Minute)
			trial.Tick()
			select {
			case r := <-trial.Done():
				if r.Restart != f.bin {
					t.Fatalf("after the deadline: %+v, want a restart into the installed binary", r)
				}
			default:
				t.Fatalf("a minute past its deadline (the clock moved by %s), the trial still runs", jump)
			}
			back := f.updater("1.1.0", f.bin)
			back.Tick()
			if rep, ok := f.pub.lastReply(); !ok || rep.TS != f.now.UnixMilli() {
				t.Errorf("reply %+v, want it dated on the node's clock %v", rep, f.now)
			}
		})
	}
}
