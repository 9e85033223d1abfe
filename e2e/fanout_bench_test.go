package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// BenchmarkFanout connects many simulated nodes (paho clients in this test
// process, apart from the broker, each with its own credentials and the
// subscriptions a node makes) to a controller, sends one emergency "play"
// to the zone they all belong to, and reports how long the command took to
// reach them (p50, p99, max) and how many it reached; then every node
// reports proof of play for it and the benchmark waits for every
// acknowledgement and counts the records in SQLite (zero loss). Last, an
// emergency with a recording no node holds yet (emergencyNewAudio): how
// long until every node holds command and file, and how many bytes the
// controller sent for it (once per zone, not per node). It runs
// once with the embedded broker and once with Debian's mosquitto, and
// prints the ratio of their p99s. RADIO_FANOUT_NODES sets the number of
// nodes (default 10,000), RADIO_FANOUT_BROKERS the brokers (default
// "embedded,mosquitto"). Run with -benchtime=1x.
func BenchmarkFanout(b *testing.B) {
	n := 10_000
	if v := os.Getenv("RADIO_FANOUT_NODES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("RADIO_FANOUT_NODES=%q", v)
		}
	}
	raiseFileLimit(b, n+1000)
	p99 := map[string]float64{}
	brokers := []string{"embedded", "mosquitto"}
	if v := os.Getenv("RADIO_FANOUT_BROKERS"); v != "" {
		brokers = strings.Split(v, ",")
	}
	for _, brokerKind := range brokers {
		b.Run(brokerKind, func(b *testing.B) {
			dir := b.TempDir()
			var ctl *controller
			if brokerKind == "embedded" {
				ctl = startController(b, filepath.Join(dir, "ctl"))
			} else {
				ctl = startWithMosquitto(b, dir)
			}
			p99[brokerKind] = fanout(b, ctl, dir, n)
		})
	}
	if p99["mosquitto"] > 0 && p99["embedded"] > 0 {
		fmt.Printf("fanout: %d nodes, command p99 embedded %.0f ms, mosquitto %.0f ms, ratio %.2f\n",
			n, p99["embedded"], p99["mosquitto"], p99["embedded"]/p99["mosquitto"])
	}
}

// raiseFileLimit lifts this process's open-file limit to at least want
// (each simulated node holds a socket), or fails saying why.
func raiseFileLimit(b *testing.B, want int) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		b.Fatal(err)
	}
	if l.Cur >= uint64(want) {
		return
	}
	if l.Max < uint64(want) {
		b.Fatalf("open-file limit %d is below the %d this run needs: set RADIO_FANOUT_NODES lower", l.Max, want)
	}
	l.Cur = uint64(want)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		b.Fatal(err)
	}
}

type fanNode struct {
	id, secret string
	client     mqtt.Client
	mu         sync.Mutex
	cmds       map[string]time.Time // command id -> when it first arrived
	acked      atomic.Bool
	tries      [2]int    // connects, subscribes it took
	push       pushState // the file pushed on the zone's chunk topic
}

// pushState is what a simulated node holds of a pushed file (under mu).
type pushState struct {
	media string    // the file expected; other chunks are ignored
	have  []bool    // chunk indices held
	n     int       // how many
	done  time.Time // when the last missing chunk arrived
	keep  [][]byte  // the chunk messages, on the nodes that assemble the file
}

// fanout enrols n nodes into zone z-center, connects them, sends one play
// and returns the p99 of its delivery in ms.
func fanout(b *testing.B, ctl *controller, dir string, n int) float64 {
	ctl.setupCommune(b)
	m := ctl.upload(b, tone(b, dir, 880, 1))
	t0 := time.Now()
	nodes := make([]*fanNode, n)
	var enrolling sync.WaitGroup
	next := atomic.Int64{}
	for range 16 { // as an import script would: several enrolments in flight
		enrolling.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				id := fmt.Sprintf("f%05d", i)
				var resp struct {
					Config struct{ ID, Secret string } `json:"config"`
				}
				ctl.mustCall(b, "POST", "/api/v1/nodes", map[string]any{"id": id, "station_id": "st-1", "name": "Cụm " + id,
					"lat": 10.7, "lon": 106.7, "zones": []string{"z-center"}}, &resp)
				nodes[i] = &fanNode{id: id, secret: resp.Config.Secret, cmds: map[string]time.Time{}}
			}
		})
	}
	enrolling.Wait()
	if b.Failed() { // an enrolment failed: its goroutine stopped (wg.Go still counted it done)
		b.FailNow()
	}
	enrol := time.Since(t0)
	b.Logf("enrolled %d nodes in %v (%.0f/s)", n, enrol.Round(time.Millisecond), float64(n)/enrol.Seconds())

	t0 = time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64) // connects in flight
	var failed atomic.Int64
	for _, fn := range nodes {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			// A node verifies the signature on its own CPU; here 10,000
			// nodes share two cores, so only the id is read.
			onCmd := func(_ mqtt.Client, msg mqtt.Message) {
				at := time.Now()
				id := nodeproto.PeekID(msg.Payload())
				fn.mu.Lock()
				if _, seen := fn.cmds[id]; !seen && id != "" {
					fn.cmds[id] = at
				}
				fn.mu.Unlock()
			}
			o := mqtt.NewClientOptions().AddBroker("tcp://" + ctl.mqtt).
				SetClientID(fn.id).SetUsername(fn.id).SetPassword(fn.secret).
				SetCleanSession(false).SetOrderMatters(false).SetKeepAlive(120 * time.Second).
				SetConnectTimeout(30 * time.Second).SetAutoReconnect(false).SetWriteTimeout(30 * time.Second)
			o.SetDefaultPublishHandler(func(mqtt.Client, mqtt.Message) {})
			fn.client = mqtt.NewClient(o)
			// Mosquitto reloads its password file a moment after the
			// enrolment's SIGHUP: retry as a node does.
			for try := 1; ; try++ {
				fn.tries[0] = try
				tok := fn.client.Connect()
				if tok.WaitTimeout(60*time.Second) && tok.Error() == nil {
					break
				}
				if try == 30 {
					failed.Add(1)
					return
				}
				time.Sleep(2 * time.Second)
			}
			subs := map[string]byte{
				nodeproto.NodeTopic(fn.id, nodeproto.LeafCmd): 1,
				nodeproto.ZoneCmdTopic("z-center"):            1,
				nodeproto.ZoneChunkTopic("z-center"):          1,
				nodeproto.NodeTopic(fn.id, nodeproto.LeafAck): 1,
			}
			handler := func(c mqtt.Client, msg mqtt.Message) {
				if id, leaf, ok := nodeproto.ParseNodeTopic(msg.Topic()); ok && id == fn.id && leaf == nodeproto.LeafAck {
					fn.acked.Store(true)
					return
				}
				if _, ok := nodeproto.ParseZoneChunkTopic(msg.Topic()); ok {
					fn.onChunk(msg.Payload())
					return
				}
				onCmd(c, msg)
			}
			// A refused subscription (0x80: the ACL not reloaded yet) is
			// asked for again, as a node does.
			for try := 1; ; try++ {
				fn.tries[1] = try
				tok := fn.client.SubscribeMultiple(subs, handler)
				ok := tok.WaitTimeout(60*time.Second) && tok.Error() == nil
				for _, code := range tok.(*mqtt.SubscribeToken).Result() {
					ok = ok && code < 0x80
				}
				if ok {
					break
				}
				if try == 30 {
					failed.Add(1)
					return
				}
				time.Sleep(2 * time.Second)
			}
		}()
	}
	wg.Wait()
	b.Cleanup(func() {
		for _, fn := range nodes {
			if fn.client != nil {
				fn.client.Disconnect(0)
			}
		}
	})
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d nodes could not connect and subscribe", f, n)
	}
	b.Logf("connected %d nodes in %v; controller RSS %d MB", n, time.Since(t0).Round(time.Millisecond), rssKB(ctl.cmd.Process.Pid)/1024)
	time.Sleep(2 * time.Second) // let the retained desired states drain

	// The command: sent, then delivered.
	var resp struct {
		Command string `json:"command"`
		PlayAt  string `json:"play_at"`
	}
	sent := time.Now()
	ctl.mustCall(b, "POST", "/api/v1/play", map[string]any{"zone": "z-center", "media": m.SHA256,
		"priority": "emergency", "title": "Cảnh báo lũ (thử)"}, &resp)
	answered := time.Since(sent)
	deadline := time.Now().Add(60 * time.Second)
	var lat []float64 // ms from the request to arrival
	for {
		lat = lat[:0]
		for _, fn := range nodes {
			fn.mu.Lock()
			if at, ok := fn.cmds[resp.Command]; ok {
				lat = append(lat, float64(at.Sub(sent).Microseconds())/1000)
			}
			fn.mu.Unlock()
		}
		if len(lat) == n || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(lat) < n {
		var missing []string
		for _, fn := range nodes {
			fn.mu.Lock()
			if _, ok := fn.cmds[resp.Command]; !ok && len(missing) < 20 {
				missing = append(missing, fmt.Sprintf("%s (connected %v, %d connects, %d subscribes, got %d commands)",
					fn.id, fn.client.IsConnectionOpen(), fn.tries[0], fn.tries[1], len(fn.cmds)))
			}
			fn.mu.Unlock()
		}
		b.Errorf("the command reached %d of %d nodes in 60 s; not: %s", len(lat), n, strings.Join(missing, "; "))
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	playAt, _ := time.Parse(time.RFC3339Nano, resp.PlayAt)
	lead := playAt.Sub(sent)
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(pct(1), "max-ms")
	b.ReportMetric(float64(len(lat)), "reached")
	fmt.Printf("fanout %s: %d nodes; play answered in %.0f ms; command reached %d: p50 %.0f ms, p99 %.0f ms, max %.0f ms; play_at was %.0f ms after the request\n",
		b.Name(), n, float64(answered.Microseconds())/1000, len(lat), pct(0.5), pct(0.99), pct(1), float64(lead.Milliseconds()))

	// Proof of play: every node reports the bulletin finished; every
	// record must be acknowledged and stored once.
	t0 = time.Now()
	for i, fn := range nodes {
		at := time.Now().UnixMilli()
		ev := nodeproto.Events{Node: fn.id, Events: []nodeproto.Event{{Seq: 1, Type: nodeproto.EventFinished, ID: resp.Command, Media: m.SHA256,
			At: at, PlayAt: playAt.UnixMilli(), PlayedMS: 1000, Priority: "emergency"}}}
		body, _ := json.Marshal(ev)
		tok := fn.client.Publish(nodeproto.NodeTopic(fn.id, nodeproto.LeafEvents), 1, false, body)
		if i%500 == 499 {
			tok.WaitTimeout(30 * time.Second) // keep a bounded number in flight
		}
	}
	deadline = time.Now().Add(120 * time.Second)
	acked := 0
	for {
		acked = 0
		for _, fn := range nodes {
			if fn.acked.Load() {
				acked++
			}
		}
		if acked == n || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	ingest := time.Since(t0)
	rows := sqliteRows(b, ctl.dir, "SELECT count(*), count(DISTINCT node_id) FROM play_events WHERE item_id = ?", resp.Command)
	stored := fmt.Sprint(rows[0][0])
	if acked != n || stored != strconv.Itoa(n) || fmt.Sprint(rows[0][1]) != strconv.Itoa(n) {
		b.Errorf("proof of play: %d of %d acknowledged, %s stored (%v distinct nodes)", acked, n, stored, rows[0][1])
	}
	fmt.Printf("fanout %s: proof of play from %d nodes acknowledged in %.1f s (%.0f/s), %s stored\n",
		b.Name(), n, ingest.Seconds(), float64(acked)/ingest.Seconds(), stored)
	emergencyNewAudio(b, ctl, dir, nodes)
	return pct(0.99)
}

// onChunk counts a chunk pushed on the zone's chunk topic. Only the header
// is read here (10,000 nodes share two cores); the nodes that keep the
// messages verify them and the whole file afterwards.
func (fn *fanNode) onChunk(payload []byte) {
	at := time.Now()
	media, i, ok := nodeproto.PeekChunk(payload)
	fn.mu.Lock()
	defer fn.mu.Unlock()
	p := &fn.push
	if !ok || media != p.media || i < 0 || i >= len(p.have) || p.have[i] {
		return
	}
	p.have[i] = true
	p.n++
	if p.keep != nil {
		p.keep[i] = slices.Clone(payload)
	}
	if p.n == len(p.have) {
		p.done = at
	}
}

// emergencyNewAudio: an emergency with a recording no node holds yet. A
// fresh ~100 KB recording is uploaded, then played to the zone; the
// controller pushes it once on the zone's chunk topic (PROTOCOL.md §6) and
// the broker fans it out. Counted per node: from the request until it
// holds both the command and every chunk. The controller's outgoing bytes
// are counted twice: what the fleet says it pushed (its log), and what its
// TCP connections to the broker sent meanwhile (ss), against what one
// fetch per node would have cost.
func emergencyNewAudio(b *testing.B, ctl *controller, dir string, nodes []*fanNode) {
	n := len(nodes)
	m := ctl.upload(b, tone(b, dir, 523, 18)) // ~100 KB of Opus
	count := nodeproto.ChunkCount(m.Size)
	const verifyEvery = 100 // these nodes assemble the file and check its sha256
	for i, fn := range nodes {
		fn.mu.Lock()
		fn.push = pushState{media: m.SHA256, have: make([]bool, count)}
		if i%verifyEvery == 0 {
			fn.push.keep = make([][]byte, count)
		}
		fn.mu.Unlock()
	}
	brokerPort := ctl.mqtt[strings.LastIndex(ctl.mqtt, ":")+1:]
	before, sockets := sentToBroker(b, ctl.cmd.Process.Pid, brokerPort)

	var resp struct {
		Command string `json:"command"`
	}
	sent := time.Now()
	ctl.mustCall(b, "POST", "/api/v1/play", map[string]any{"zone": "z-center", "media": m.SHA256,
		"priority": "emergency", "title": "Cảnh báo lũ: bản ghi mới (thử)"}, &resp)
	deadline := time.Now().Add(120 * time.Second)
	var lat []float64 // ms from the request until the node holds command and file
	for {
		lat = lat[:0]
		for _, fn := range nodes {
			fn.mu.Lock()
			if at, ok := fn.cmds[resp.Command]; ok && !fn.push.done.IsZero() {
				if fn.push.done.After(at) {
					at = fn.push.done
				}
				lat = append(lat, float64(at.Sub(sent).Microseconds())/1000)
			}
			fn.mu.Unlock()
		}
		if len(lat) == n || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	pushed := ctl.wait(b, `zone push sent".* media=`+m.SHA256+`.* bytes=([0-9]+)`, 60*time.Second)
	after, _ := sentToBroker(b, ctl.cmd.Process.Pid, brokerPort)
	if len(lat) < n {
		var short []string
		for _, fn := range nodes {
			fn.mu.Lock()
			if _, ok := fn.cmds[resp.Command]; (!ok || fn.push.done.IsZero()) && len(short) < 10 {
				short = append(short, fmt.Sprintf("%s (command %v, %d of %d chunks)", fn.id, ok, fn.push.n, count))
			}
			fn.mu.Unlock()
		}
		b.Errorf("command and file reached %d of %d nodes in 120 s; not: %s", len(lat), n, strings.Join(short, "; "))
	}
	verified := 0
	for _, fn := range nodes {
		fn.mu.Lock()
		keep := fn.push.keep
		fn.mu.Unlock()
		if keep == nil || len(lat) < n {
			continue
		}
		var file []byte
		for _, msg := range keep {
			c, err := nodeproto.UnmarshalChunk(msg)
			if err != nil {
				b.Fatalf("%s: pushed chunk: %v", fn.id, err)
			}
			file = append(file, c.Data...)
		}
		if sum := sha256.Sum256(file); hex.EncodeToString(sum[:]) != m.SHA256 {
			b.Fatalf("%s: the pushed file does not match its sha256", fn.id)
		}
		verified++
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	pushedBytes, _ := strconv.ParseInt(pushed, 10, 64)
	b.ReportMetric(pct(0.5), "audio-p50-ms")
	b.ReportMetric(pct(0.99), "audio-p99-ms")
	b.ReportMetric(float64(pushedBytes), "pushed-bytes")
	fmt.Printf("fanout %s: emergency with new audio (%d bytes, %d chunks) to %d nodes: command and whole file held by %d: p50 %.0f ms, p99 %.0f ms, max %.0f ms; %d nodes assembled it and matched its sha256\n",
		b.Name(), m.Size, count, n, len(lat), pct(0.5), pct(0.99), pct(1), verified)
	fmt.Printf("fanout %s: controller pushed %d bytes on the zone's chunk topic (fleet log); its connections to the broker (%d) sent %d bytes meanwhile (ss); one fetch per node would have been %d bytes\n",
		b.Name(), pushedBytes, sockets, after-before, int64(n)*(m.Size+int64(count)*84))
}

// sentToBroker sums bytes_sent of pid's TCP connections to the broker's
// port on this machine, read with ss from the kernel's TCP_INFO.
func sentToBroker(b *testing.B, pid int, port string) (sent int64, sockets int) {
	out, err := exec.Command("ss", "-tinpH", "state", "established", "( dport = :"+port+" )").Output()
	if err != nil {
		b.Fatalf("ss: %v", err)
	}
	mine := false
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "users:(") {
			mine = strings.Contains(line, "pid="+strconv.Itoa(pid)+",")
			continue
		}
		if !mine {
			continue
		}
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "bytes_sent:"); ok {
				k, _ := strconv.ParseInt(v, 10, 64)
				sent += k
				sockets++
			}
		}
		mine = false
	}
	if sockets == 0 {
		b.Fatalf("ss shows no connection of the controller (pid %d) to port %s:\n%s", pid, port, out)
	}
	return sent, sockets
}
