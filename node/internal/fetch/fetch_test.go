package fetch

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/communeradio/radio/firmware-api/nodeproto"
	"github.com/communeradio/radio/node/internal/cache"
)

// sent records the fetch requests a Fetcher sends.
type sent struct {
	reqs []nodeproto.Fetch
	down bool
}

func (s *sent) send(f nodeproto.Fetch) error {
	if s.down {
		return errors.New("link down")
	}
	s.reqs = append(s.reqs, f)
	return nil
}

func (s *sent) asked() []int {
	var all []int
	for _, r := range s.reqs {
		all = append(all, r.Chunks...)
	}
	return all
}

func newFetcher(t *testing.T) (*Fetcher, *sent) {
	t.Helper()
	c, err := cache.Open(t.TempDir(), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	s := &sent{}
	return New(Config{Cache: c, Send: s.send, Connected: func() bool { return !s.down }}), s
}

// file is n full chunks of content, its media id and its chunk messages.
func file(t *testing.T, n int) (string, int64, [][]byte) {
	t.Helper()
	b := make([]byte, n*nodeproto.ChunkSize)
	for i := range b {
		b[i] = byte(i * 7)
	}
	sum := sha256.Sum256(b)
	media := hex.EncodeToString(sum[:])
	size := int64(len(b))
	var msgs [][]byte
	for i := range nodeproto.ChunkCount(size) {
		m, err := nodeproto.MarshalChunk(nodeproto.Chunk{Media: media, Index: i, Count: n, Size: size,
			Data: b[i*nodeproto.ChunkSize : i*nodeproto.ChunkSize+nodeproto.ChunkLen(size, i)]})
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	return media, size, msgs
}

// The window bounds the requests in flight; unanswered ones are asked
// again only after the timeout; the file completes once every chunk is in.
func TestWindowTimeoutAndCompletion(t *testing.T) {
	f, s := newFetcher(t)
	media, size, msgs := file(t, Window+2)
	t0 := time.Unix(1_800_000_000, 0)
	if err := f.Want(media, size, t0); err != nil {
		t.Fatal(err)
	}
	if got, want := s.asked(), []int{0, 1, 2, 3, 4, 5, 6, 7}; !slices.Equal(got, want) {
		t.Fatalf("first round asked %v, want %v", got, want)
	}
	f.Pump(t0.Add(Timeout / 2))
	if len(s.reqs) != 1 {
		t.Fatalf("a second request went out within the timeout: %+v", s.reqs)
	}
	// One chunk arrives: the window opens by one.
	if r, ok := f.Chunk(msgs[0], t0.Add(time.Second)); !ok || r.Complete {
		t.Fatalf("first chunk: %+v %v", r, ok)
	}
	if got := s.reqs[len(s.reqs)-1].Chunks; !slices.Equal(got, []int{8}) {
		t.Fatalf("after one chunk asked %v, want [8]", got)
	}
	// The rest time out and are asked again, the window still bounding them.
	s.reqs = nil
	f.Pump(t0.Add(Timeout + 2*time.Second))
	if got := s.asked(); len(got) != Window || got[0] != 1 {
		t.Fatalf("re-ask after the timeout: %v", got)
	}
	var last Result
	for _, m := range msgs[1:] {
		last, _ = f.Chunk(m, t0.Add(20*time.Second))
	}
	if !last.Complete || last.Media != media || f.Fetching(media) {
		t.Fatalf("last chunk: %+v, still fetching %v", last, f.Fetching(media))
	}
}

// A refusal holds the file back for RefusedWait; a zone play's file waits
// for the push; a down link sends nothing.
func TestRefusalPushAndLinkDown(t *testing.T) {
	f, s := newFetcher(t)
	media, size, msgs := file(t, 2)
	t0 := time.Unix(1_800_000_000, 0)
	f.AwaitPush(media, size, t0)
	f.Pump(t0.Add(PushWait / 2))
	if len(s.reqs) != 0 {
		t.Fatalf("fetched during the push: %+v", s.reqs)
	}
	if _, ok := f.Pushed("z", msgs[0], t0.Add(time.Second)); !ok {
		t.Fatal("a pushed chunk of a wanted file was not stored")
	}
	f.Pump(t0.Add(time.Second + PushWait - time.Millisecond))
	if len(s.reqs) != 0 {
		t.Fatalf("fetched while pushed chunks still arrive: %+v", s.reqs)
	}
	ref, _ := nodeproto.MarshalChunkRefusal(nodeproto.ChunkRefusal{Media: media, Code: nodeproto.CodeContent})
	t1 := t0.Add(5 * time.Second)
	f.Chunk(ref, t1)
	f.Pump(t1.Add(RefusedWait - time.Second))
	if len(s.reqs) != 0 {
		t.Fatalf("asked again within RefusedWait: %+v", s.reqs)
	}
	s.down = true
	f.Pump(t1.Add(RefusedWait))
	if len(s.reqs) != 0 {
		t.Fatal("sent with the link down")
	}
	s.down = false
	f.Pump(t1.Add(RefusedWait))
	if got := s.asked(); !slices.Equal(got, []int{1}) {
		t.Fatalf("after the wait asked %v, want the one chunk not pushed [1]", got)
	}
	// A pushed chunk of a file nobody wants is not stored.
	other, _, om := file(t, 1)
	if _, ok := f.Pushed("z", om[0], t1); ok || f.Fetching(other) {
		t.Fatal("a pushed chunk nobody asked for was stored")
	}
}

// A file whose assembled hash keeps failing is given up after
// MaxHashFailures and its transfer dropped.
func TestHashFailuresGiveUp(t *testing.T) {
	f, _ := newFetcher(t)
	_, size, msgs := file(t, 1)
	bad := make([]byte, 32) // a media id the content does not hash to
	bad[0] = 1
	media := hex.EncodeToString(bad)
	ch, _ := nodeproto.UnmarshalChunk(msgs[0])
	ch.Media = media
	msg, _ := nodeproto.MarshalChunk(ch)
	t0 := time.Unix(1_800_000_000, 0)
	if err := f.Want(media, size, t0); err != nil {
		t.Fatal(err)
	}
	var r Result
	for i := range MaxHashFailures {
		r, _ = f.Chunk(msg, t0)
		if gave := i == MaxHashFailures-1; r.GaveUp != gave {
			t.Fatalf("attempt %d: gave up %v, want %v", i+1, r.GaveUp, gave)
		}
	}
	if f.Fetching(media) {
		t.Fatal("a given-up file is still in transfer")
	}
	f.Want(media, size, t0)
	f.Retain(map[string]bool{})
	if len(f.Media()) != 0 {
		t.Fatal("Retain kept a file nothing needs")
	}
}
