package broker

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// BenchmarkConnections measures what the embedded broker holds per idle
// node connection (heap and goroutine stacks, after GC), and the time for
// one zone command to reach all of them. Nodes are bare MQTT 3.1.1 clients
// on raw sockets, each subscribed as a node is to its command topic and its
// zone's, so that almost all the memory counted is the broker's.
// RADIO_BROKER_CONNS sets how many (default 2,000). Run with -benchtime=1x.
func BenchmarkConnections(b *testing.B) {
	n := 2000
	if v := os.Getenv("RADIO_BROKER_CONNS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("RADIO_BROKER_CONNS=%q", v)
		}
	}
	secret := NewSecret()
	hash, err := HashSecret(secret)
	if err != nil {
		b.Fatal(err)
	}
	before := heldBytes()
	br, err := Start(Config{Addr: "127.0.0.1:0", Logger: quietLogger(), ControllerUser: "controller", ControllerSecret: NewSecret(),
		NodeHash:  func(string) (string, bool) { return hash, true },
		NodeZones: func(string) []string { return []string{"z1"} }})
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	conns := make([]*rawClient, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	errs := make(chan error, n)
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			id := fmt.Sprintf("n%05d", i)
			c, err := dialRaw(br.Addr(), id, secret, nodeproto.NodeTopic(id, nodeproto.LeafCmd), nodeproto.ZoneCmdTopic("z1"))
			if err != nil {
				errs <- fmt.Errorf("%s: %w", id, err)
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	defer func() {
		for _, c := range conns {
			c.conn.Close()
		}
	}()
	heap, stacks := held()
	held := heap + stacks - before

	// One zone command, 1 KB, QoS 1, as the controller sends it.
	lat := make([]time.Duration, n)
	arrived := make(chan error, n)
	var sent time.Time
	var sentMu sync.RWMutex
	sentMu.Lock()
	for i, c := range conns {
		go func() {
			err := c.awaitPublish()
			sentMu.RLock()
			lat[i] = time.Since(sent)
			sentMu.RUnlock()
			arrived <- err
		}()
	}
	b.ResetTimer()
	sent = time.Now()
	sentMu.Unlock()
	if err := br.srv.Publish(nodeproto.ZoneCmdTopic("z1"), make([]byte, 1024), false, 1); err != nil {
		b.Fatal(err)
	}
	for range conns {
		if err := <-arrived; err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(held)/float64(n), "B/conn")
	b.ReportMetric(float64(lat[n/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[n*99/100].Microseconds())/1000, "p99-ms")
	fmt.Printf("embedded broker, %d idle node connections: %.1f KB each after GC (of all: heap %.0f MB, goroutine stacks %.0f MB, %d goroutines); one zone command to all: p50 %v, p99 %v\n",
		n, float64(held)/float64(n)/1024, float64(heap)/(1<<20), float64(stacks)/(1<<20), runtime.NumGoroutine(),
		lat[n/2].Round(time.Millisecond), lat[n*99/100].Round(time.Millisecond))
}

// heldBytes is the heap in use plus goroutine stacks, after a full GC.
func heldBytes() int64 {
	heap, stacks := held()
	return heap + stacks
}

func held() (heap, stacks int64) {
	for range 6 { // each GC halves at most once a stack that is mostly unused
		runtime.GC()
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse), int64(m.StackInuse)
}

// rawClient is a minimal MQTT 3.1.1 node: connect, subscribe, read one
// QoS 1 publish and acknowledge it.
type rawClient struct {
	conn net.Conn
	r    *bufio.Reader
}

func mqttString(s string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(s))), s...)
}

func mqttPacket(typ byte, body []byte) []byte {
	p := []byte{typ}
	for l := len(body); ; {
		d := byte(l % 128)
		l /= 128
		if l > 0 {
			d |= 128
		}
		p = append(p, d)
		if l == 0 {
			break
		}
	}
	return append(p, body...)
}

func dialRaw(addr, id, secret string, topics ...string) (*rawClient, error) {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	c := &rawClient{conn: conn, r: bufio.NewReaderSize(conn, 64)}
	body := append(mqttString("MQTT"), 4, 0xC0, 0, 120) // user+password, persistent session, keepalive 120 s
	body = append(append(append(body, mqttString(id)...), mqttString(id)...), mqttString(secret)...)
	if _, err := conn.Write(mqttPacket(0x10, body)); err != nil {
		return nil, err
	}
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	typ, pk, err := c.read()
	if err != nil || typ != 0x20 || len(pk) < 2 || pk[1] != 0 {
		return nil, fmt.Errorf("no CONNACK: %x %x %v", typ, pk, err)
	}
	sub := []byte{0, 1}
	for _, t := range topics {
		sub = append(append(sub, mqttString(t)...), 1)
	}
	if _, err := conn.Write(mqttPacket(0x82, sub)); err != nil {
		return nil, err
	}
	typ, pk, err = c.read()
	if err != nil || typ != 0x90 || slices.Contains(pk[2:], 0x80) {
		return nil, fmt.Errorf("subscription refused: %x %x %v", typ, pk, err)
	}
	conn.SetReadDeadline(time.Time{})
	return c, nil
}

func (c *rawClient) read() (byte, []byte, error) {
	h, err := c.r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	l, mul := 0, 1
	for {
		d, err := c.r.ReadByte()
		if err != nil {
			return 0, nil, err
		}
		l += int(d&127) * mul
		mul *= 128
		if d < 128 {
			break
		}
	}
	body := make([]byte, l)
	_, err = io.ReadFull(c.r, body)
	return h & 0xF0, body, err
}

func (c *rawClient) awaitPublish() error {
	c.conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	for {
		typ, pk, err := c.read()
		if err != nil {
			return err
		}
		if typ != 0x30 {
			continue
		}
		tl := int(binary.BigEndian.Uint16(pk))
		pid := pk[2+tl : 4+tl]
		_, err = c.conn.Write([]byte{0x40, 2, pid[0], pid[1]})
		return err
	}
}
