// nexmark-gen fills Kafka topics with Nexmark events, one topic per event type, JSON values,
// each record's timestamp (CreateTime) its event's dateTime.
//
// Built by `make nexmark-gen`; bench/nexmark/generator.py runs it. It prints one JSON line at
// the end: how many events of each kind it wrote, in how many seconds.
//
// Events are made by several goroutines over interleaved ranges of event numbers (an event is
// a function of its number alone) and produced with franz-go, asynchronously, so the rate is
// the broker's, not the generator's.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

type options struct {
	bootstrap   string
	events      int64
	first       int64
	rate        float64
	partitions  int
	topics      [3]string
	baseTime    string
	paced       bool
	workers     int
	compression string
	stdout      bool
}

func parseFlags() options {
	var o options
	flag.StringVar(&o.bootstrap, "bootstrap", "localhost:9092", "Kafka bootstrap servers")
	flag.Int64Var(&o.events, "events", 1_000_000, "number of events")
	flag.Int64Var(&o.first, "first", 0, "number of the first event (to continue a sequence)")
	flag.Float64Var(&o.rate, "rate", 10_000, "events per second of event time")
	flag.IntVar(&o.partitions, "partitions", 4, "partitions of each topic it creates")
	flag.StringVar(&o.topics[person], "person-topic", "nexmark-person", "topic of Person events")
	flag.StringVar(&o.topics[auction], "auction-topic", "nexmark-auction", "topic of Auction events")
	flag.StringVar(&o.topics[bid], "bid-topic", "nexmark-bid", "topic of Bid events")
	flag.StringVar(&o.baseTime, "base-time", "2026-12-01T10:00:00Z",
		"dateTime of event 0 (RFC 3339), or 'now'")
	flag.BoolVar(&o.paced, "paced", false,
		"produce each event when the wall clock reaches its dateTime (implies -base-time now"+
			" unless given), for latency runs")
	flag.IntVar(&o.workers, "workers", runtime.NumCPU(), "generating goroutines")
	flag.StringVar(&o.compression, "compression", "lz4", "none, lz4, zstd or snappy")
	flag.BoolVar(&o.stdout, "stdout", false,
		"write 'kind<TAB>json<TAB>timestamp-ms' lines to stdout instead of Kafka")
	flag.Parse()
	return o
}

func (o options) baseMs() (int64, error) {
	if o.baseTime == "now" || (o.paced && !isSet("base-time")) {
		return time.Now().UnixMilli(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, o.baseTime)
	if err != nil {
		return 0, fmt.Errorf("-base-time %q: %w", o.baseTime, err)
	}
	return t.UnixMilli(), nil
}

func isSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func compression(name string) (kgo.CompressionCodec, error) {
	codecs := map[string]kgo.CompressionCodec{
		"none": kgo.NoCompression(), "lz4": kgo.Lz4Compression(),
		"zstd": kgo.ZstdCompression(), "snappy": kgo.SnappyCompression(),
	}
	c, ok := codecs[name]
	if !ok {
		return c, fmt.Errorf("-compression %q: one of none, lz4, zstd, snappy", name)
	}
	return c, nil
}

// counts of what was written, per kind, and the errors the producer reported.
type counts struct {
	n      [3]atomic.Int64
	bytes  atomic.Int64
	failed atomic.Int64
	first  atomic.Value
}

func (c *counts) fail(err error) {
	c.failed.Add(1)
	c.first.CompareAndSwap(nil, err.Error())
}

// sink is where generated events go: Kafka or stdout.
type sink interface {
	put(k kind, value []byte, ms int64)
	finish() error
}

type kafkaSink struct {
	client *kgo.Client
	topics [3]string
	c      *counts
}

func (s *kafkaSink) put(k kind, value []byte, ms int64) {
	rec := &kgo.Record{Topic: s.topics[k], Value: value, Timestamp: time.UnixMilli(ms)}
	s.client.Produce(context.Background(), rec, func(_ *kgo.Record, err error) {
		if err != nil {
			s.c.fail(err)
		}
	})
}

func (s *kafkaSink) finish() error {
	defer s.client.Close()
	return s.client.Flush(context.Background())
}

type stdoutSink struct {
	mu sync.Mutex
	w  *os.File
}

func (s *stdoutSink) put(k kind, value []byte, ms int64) {
	line := fmt.Sprintf("%s\t%s\t%d\n", [...]string{"person", "auction", "bid"}[k], value, ms)
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _ = s.w.WriteString(line)
}

func (s *stdoutSink) finish() error { return nil }

func newKafkaSink(o options, c *counts) (*kafkaSink, error) {
	codec, err := compression(o.compression)
	if err != nil {
		return nil, err
	}
	client, err := kgo.NewClient(
		kgo.SeedBrokers(strings.Split(o.bootstrap, ",")...),
		kgo.ProducerBatchMaxBytes(1<<20),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.ProducerBatchCompression(codec),
		kgo.MaxBufferedRecords(1<<20),
		kgo.AllowAutoTopicCreation(),
	)
	if err != nil {
		return nil, err
	}
	if err := createTopics(client, o); err != nil {
		client.Close()
		return nil, err
	}
	return &kafkaSink{client: client, topics: o.topics, c: c}, nil
}

// createTopics creates the topics that are missing, with o.partitions partitions each.
func createTopics(client *kgo.Client, o options) error {
	adm := kadm.NewClient(client)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := adm.CreateTopics(ctx, int32(o.partitions), 1, nil, o.topics[:]...)
	if err != nil {
		return fmt.Errorf("creating the topics at %s: %w", o.bootstrap, err)
	}
	for _, r := range resp {
		if r.Err != nil && !strings.Contains(r.Err.Error(), "TOPIC_ALREADY_EXISTS") {
			return fmt.Errorf("creating topic %s: %w", r.Topic, r.Err)
		}
	}
	return waitForLeaders(ctx, adm, o.topics[:])
}

// waitForLeaders returns when every partition of the topics has a leader: a new topic's first
// records would otherwise wait for the producer's metadata retries, seconds that the fill's
// rate would count.
func waitForLeaders(ctx context.Context, adm *kadm.Client, topics []string) error {
	for {
		md, err := adm.Metadata(ctx, topics...)
		if err == nil && allLed(md, topics) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the topics %v have no leaders after 30 s", topics)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func allLed(md kadm.Metadata, topics []string) bool {
	for _, name := range topics {
		td, ok := md.Topics[name]
		if !ok || td.Err != nil || len(td.Partitions) == 0 {
			return false
		}
		for _, p := range td.Partitions {
			if p.Err != nil || p.Leader < 0 {
				return false
			}
		}
	}
	return true
}

// chunk is how many consecutive events one worker makes at a time: large for a fill, about a
// millisecond of events when paced.
func chunk(o options) int64 {
	if o.paced {
		return max(1, int64(o.rate/1000))
	}
	return 2048
}

func generate(o options, cfg config, out sink, c *counts) {
	tab := newTables()
	size := chunk(o)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < o.workers; w++ {
		wg.Add(1)
		go func(w int64) {
			defer wg.Done()
			enc := &encoder{cfg: cfg, tab: tab}
			step := size * int64(o.workers)
			for lo := o.first + w*size; lo < o.first+o.events; lo += step {
				hi := min(lo+size, o.first+o.events)
				if o.paced {
					due := start.Add(time.Duration(cfg.timeMs(lo)-cfg.baseMs) * time.Millisecond)
					time.Sleep(time.Until(due))
				}
				buf := make([]byte, 0, (hi-lo)*320)
				for n := lo; n < hi; n++ {
					from := len(buf)
					var k kind
					var ms int64
					buf, k, ms = enc.event(buf, n)
					v := buf[from:len(buf):len(buf)]
					out.put(k, v, ms)
					c.n[k].Add(1)
					c.bytes.Add(int64(len(v)))
				}
			}
		}(int64(w))
	}
	wg.Wait()
}

func run() error {
	o := parseFlags()
	if o.events < 0 || o.rate <= 0 || o.workers < 1 || o.partitions < 1 {
		return fmt.Errorf("-events >= 0, -rate > 0, -workers >= 1 and -partitions >= 1")
	}
	base, err := o.baseMs()
	if err != nil {
		return err
	}
	c := &counts{}
	var out sink
	if o.stdout {
		out = &stdoutSink{w: os.Stdout}
	} else if out, err = newKafkaSink(o, c); err != nil {
		return err
	}
	t0 := time.Now()
	generate(o, config{baseMs: base, rate: o.rate}, out, c)
	if err := out.finish(); err != nil {
		return err
	}
	secs := time.Since(t0).Seconds()
	if f := c.failed.Load(); f > 0 {
		return fmt.Errorf("%d records were not written: %v", f, c.first.Load())
	}
	if o.stdout {
		return nil
	}
	total := c.n[person].Load() + c.n[auction].Load() + c.n[bid].Load()
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"events": total, "person": c.n[person].Load(), "auction": c.n[auction].Load(),
		"bid": c.n[bid].Load(), "bytes": c.bytes.Load(), "seconds": secs,
		"events_per_second": float64(total) / secs, "base_ms": base,
	})
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "nexmark-gen:", err)
		os.Exit(1)
	}
}
