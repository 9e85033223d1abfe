package update

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// Fetch pacing: a window of outstanding chunks, re-asked after a timeout,
// asked at most cfg.ChunkRate a second so that the controller's per-node
// budget never drops one; a download that makes no progress for
// stallLimit, or that the controller keeps refusing, fails.
const (
	window      = 8
	askAgain    = 5 * time.Second
	refusedWait = 15 * time.Second
	maxRefusals = 3
	stallLimit  = 10 * time.Minute
)

type download struct {
	u       *Updater
	cmd     string
	rollout string
	rel     nodeproto.Release
	in      chan []byte
	quit    chan struct{}
	part    string
	staged  string
}

func newDownload(u *Updater, c *nodeproto.Command, rel nodeproto.Release) *download {
	return &download{u: u, cmd: c.ID, rollout: c.Update.Rollout, rel: rel, in: make(chan []byte, 4*window),
		quit: make(chan struct{}), part: u.cfg.Binary + PartSuffix, staged: u.cfg.Binary + StagedSuffix}
}

func (d *download) stop() { close(d.quit) }

// run fetches, checks and stages the release, then reports on Done.
func (d *download) run() {
	err := d.fetch()
	if err == nil {
		err = d.verifyAndStage()
	}
	os.Remove(d.part)
	r := Result{Cmd: d.cmd, Err: err}
	if err == nil {
		r.Restart = d.staged
	} else {
		os.Remove(d.staged)
	}
	select {
	case d.u.done <- r:
	case <-d.quit:
	}
}

func (d *download) fetch() error {
	f, err := os.OpenFile(d.part, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nodeproto.Errf(nodeproto.CodeUpdateFailed, fmt.Sprintf("cannot write beside the installed binary: %v", err))
	}
	defer f.Close()
	count := nodeproto.ChunkCount(d.rel.Size)
	have := make([]bool, count)
	left := count
	asked := map[int]time.Time{}
	now := d.u.cfg.Mono
	rate := float64(d.u.cfg.ChunkRate)
	credit, last := float64(window), now()
	progress := now()
	refusals := 0
	var holdUntil time.Time
	pace := time.NewTicker(time.Second / time.Duration(max(1, d.u.cfg.ChunkRate/window)))
	defer pace.Stop()
	ask := func() {
		t := now()
		credit = min(float64(window), credit+t.Sub(last).Seconds()*rate)
		last = t
		if t.Before(holdUntil) {
			return
		}
		var idx []int
		out := 0
		for i, at := range asked {
			if t.Sub(at) < askAgain {
				out++
			} else {
				delete(asked, i)
			}
		}
		for i := 0; i < count && out+len(idx) < window && float64(len(idx)+1) <= credit; i++ {
			if _, busy := asked[i]; !have[i] && !busy {
				idx = append(idx, i)
			}
		}
		if len(idx) == 0 {
			return
		}
		b, _ := json.Marshal(nodeproto.Fetch{Media: d.rel.SHA256, Chunks: idx})
		if d.u.cfg.Publish(nodeproto.NodeTopic(d.u.cfg.Node, nodeproto.LeafFetch), false, b) != nil {
			return // offline: ask again on the next beat
		}
		credit -= float64(len(idx))
		for _, i := range idx {
			asked[i] = t
		}
	}
	ask()
	for left > 0 {
		select {
		case <-d.quit:
			return errors.New("update: stopped")
		case <-pace.C:
			if now().Sub(progress) > stallLimit {
				return nodeproto.Errf(nodeproto.CodeUpdateFailed, fmt.Sprintf("release download made no progress for %s", stallLimit))
			}
			ask()
		case b := <-d.in:
			if r, ok := nodeproto.UnmarshalChunkRefusal(b); ok {
				refusals++
				d.u.log.Warn("the controller refused the release", "sha256", r.Media, "code", r.Code.String(), "refusals", refusals)
				if refusals >= maxRefusals {
					return nodeproto.Errf(nodeproto.CodeUpdateFailed, "the controller refuses this release's binary to this node")
				}
				clear(asked)
				holdUntil = now().Add(refusedWait)
				continue
			}
			ch, err := nodeproto.UnmarshalChunk(b)
			if err != nil || ch.Size != d.rel.Size {
				continue // damaged or not of this release: asked again after askAgain
			}
			delete(asked, ch.Index)
			if !have[ch.Index] {
				if _, err := f.WriteAt(ch.Data, int64(ch.Index)*nodeproto.ChunkSize); err != nil {
					return nodeproto.Errf(nodeproto.CodeUpdateFailed, fmt.Sprintf("writing the release: %v", err))
				}
				have[ch.Index] = true
				left--
				progress = now()
			}
			ask()
		}
	}
	if err := f.Sync(); err != nil {
		return nodeproto.Errf(nodeproto.CodeUpdateFailed, fmt.Sprintf("writing the release: %v", err))
	}
	return nil
}

// verifyAndStage checks the whole file against the signed manifest and
// renames it to the staged name, executable.
func (d *download) verifyAndStage() error {
	sum, size, err := fileSHA256(d.part)
	if err != nil {
		return nodeproto.Errf(nodeproto.CodeUpdateFailed, fmt.Sprintf("reading the release: %v", err))
	}
	if sum != d.rel.SHA256 || size != d.rel.Size {
		return nodeproto.Errf(nodeproto.CodeUpdateFailed, fmt.Sprintf("the binary (sha256 %s, %d bytes) does not match the signed manifest (%s, %d bytes): not installed", sum, size, d.rel.SHA256, d.rel.Size))
	}
	if err := os.Chmod(d.part, 0o755); err != nil {
		return nodeproto.Errf(nodeproto.CodeUpdateFailed, err.Error())
	}
	if err := os.Rename(d.part, d.staged); err != nil {
		return nodeproto.Errf(nodeproto.CodeUpdateFailed, err.Error())
	}
	return nil
}
