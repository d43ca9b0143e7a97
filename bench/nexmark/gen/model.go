// The Nexmark event model: which event number is which kind of event, and its fields.
//
// The rules are those of the Nexmark benchmark as published with the Flink and RisingWave
// kits (the generator of the Apache Beam Nexmark suite, extended with bid channels and
// URLs): written again here from the specification, not translated from their code.
//
// Every event is a pure function of its number n and the configuration: its random numbers
// come from a generator seeded with n, so any range of events can be made by any worker, in
// any order, and the same --events and --rate always give the same events.
package main

import (
	"math"
	"strconv"
)

// The mix: in every 50 events, 1 person, 3 auctions, 46 bids.
const (
	personProportion  = 1
	auctionProportion = 3
	bidProportion     = 46
	proportionDenom   = personProportion + auctionProportion + bidProportion

	firstPersonID   = 1000
	firstAuctionID  = 1000
	firstCategoryID = 10
	numCategories   = 5

	// Recent people and auctions that new events refer to, and how far ahead of the newest
	// id a reference may reach (a bid on an auction not yet created is possible, as in the
	// specification).
	numActivePeople    = 1000
	numInFlightAuction = 100
	personIDLead       = 10
	auctionIDLead      = 10

	// A "hot" auction, bidder or seller is the first of a batch of 100 recent ones; a bid is on a
	// hot auction with probability 1 - 1/2, by a hot bidder with 1 - 1/4, an auction has a hot
	// seller with 1 - 1/4.
	hotBatch          = 100
	hotAuctionRatio   = 2
	hotBidderRatio    = 4
	hotSellerRatio    = 4
	hotChannelRatio   = 2
	channelsNumber    = 10000
	avgPersonBytes    = 200
	avgAuctionBytes   = 500
	avgBidBytes       = 100
	channelURLSeed    = 0x6e65786d61726b // a fixed seed: the same channel URLs in every run
	channelIDOmission = 10               // 1 channel URL in 10 carries no channel_id
)

var (
	firstNames  = []string{"Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"}
	lastNames   = []string{"Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"}
	usStates    = []string{"AZ", "CA", "ID", "OR", "WA", "WY"}
	usCities    = []string{"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"}
	hotChannels = []string{"Google", "Facebook", "Baidu", "Apple"}
)

// rng is splitmix64: tiny, fast, and good enough for benchmark data; seeded per event. The
// seed is mixed first: consecutive seeds must not give overlapping sequences.
type rng struct{ s uint64 }

func newRng(seed uint64) rng { return rng{s: mix(seed + 0x2545F4914F6CDD1D)} }

func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

func (r *rng) next() uint64 {
	r.s += 0x9E3779B97F4A7C15
	return mix(r.s)
}

// intn is uniform in [0, n); n > 0.
func (r *rng) intn(n int64) int64 { return int64(r.next() % uint64(n)) }

func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// kind of the n-th event (0-based).
type kind int

const (
	person kind = iota
	auction
	bid
)

func kindOf(n int64) kind {
	switch off := n % proportionDenom; {
	case off < personProportion:
		return person
	case off < personProportion+auctionProportion:
		return auction
	default:
		return bid
	}
}

// lastPerson is the 0-based id of the newest person at or before event n.
func lastPerson(n int64) int64 {
	epoch, off := n/proportionDenom, n%proportionDenom
	if off >= personProportion {
		off = personProportion - 1
	}
	return epoch*personProportion + off
}

// lastAuction is the 0-based id of the newest auction at or before event n (-1: none yet).
func lastAuction(n int64) int64 {
	epoch, off := n/proportionDenom, n%proportionDenom
	switch {
	case off < personProportion:
		epoch, off = epoch-1, auctionProportion-1
	case off >= personProportion+auctionProportion:
		off = auctionProportion - 1
	default:
		off -= personProportion
	}
	return epoch*auctionProportion + off
}

// somePerson is a recent person (or one a little ahead), 0-based.
func somePerson(n int64, r *rng) int64 {
	people := lastPerson(n) + 1
	active := min(people, numActivePeople)
	return people - active + r.intn(active+personIDLead)
}

// someAuction is an auction in flight (or one a little ahead), 0-based.
func someAuction(n int64, r *rng) int64 {
	maxA := lastAuction(n)
	minA := max(maxA-numInFlightAuction, 0)
	return minA + r.intn(maxA-minA+1+auctionIDLead)
}

func price(r *rng) int64 { return int64(math.Round(math.Pow(10, r.float()*6) * 100)) }

// appendString appends 3 to maxLen-1 random lower-case letters, some of them `special`, trimmed
// of specials at both ends.
func appendString(b []byte, r *rng, maxLen int64, special byte) []byte {
	n := 3 + r.intn(maxLen-3)
	start := len(b)
	for i := int64(0); i < n; i++ {
		if r.intn(13) == 0 {
			b = append(b, special)
		} else {
			b = append(b, byte('a'+r.intn(26)))
		}
	}
	lo, hi := start, len(b)
	for lo < hi && b[lo] == special {
		lo++
	}
	for hi > lo && b[hi-1] == special {
		hi--
	}
	return append(b[:start], b[lo:hi]...)
}

// appendExtra pads an event to about `avg` bytes: a string of avg - size letters, +-20 %.
func appendExtra(b []byte, r *rng, size, avg int) []byte {
	if size > avg {
		return b
	}
	want := int64(avg - size)
	delta := int64(math.Round(float64(want) * 0.2))
	n := want - delta
	if delta > 0 {
		n += r.intn(2 * delta)
	}
	for i := int64(0); i < n; i++ {
		b = append(b, byte('a'+r.intn(26)))
	}
	return b
}

// channel is the channel of a non-hot bid and its URL (one in ten without a channel_id).
type channel struct{ name, url string }

func baseURL(r *rng) string {
	b := []byte("https://www.nexmark.com/")
	for i := 0; i < 3; i++ {
		b = appendString(b, r, 5, '_')
		b = append(b, '/')
	}
	return string(append(b, "item.htm?query=1"...))
}

// channelIDOf is the channel number with its 32 bits reversed, made positive (a number that
// looks random but is a function of the channel).
func channelIDOf(c int) int64 {
	v := uint32(c)
	var out uint32
	for i := 0; i < 32; i++ {
		out = out<<1 | v&1
		v >>= 1
	}
	x := int64(int32(out))
	if x < 0 {
		x = -x
	}
	return x
}

type tables struct {
	channels []channel
	hotURLs  []string
}

func newTables() *tables {
	r := newRng(channelURLSeed)
	t := &tables{}
	for range hotChannels {
		t.hotURLs = append(t.hotURLs, baseURL(&r))
	}
	for c := 0; c < channelsNumber; c++ {
		u := baseURL(&r)
		if r.intn(channelIDOmission) > 0 {
			u += "&channel_id=" + strconv.FormatInt(channelIDOf(c), 10)
		}
		t.channels = append(t.channels, channel{"channel-" + strconv.Itoa(c), u})
	}
	return t
}

// config says when events happen: event n is at baseMs + n * 1000 / rate milliseconds.
type config struct {
	baseMs int64
	rate   float64
}

func (c config) timeMs(n int64) int64 { return c.baseMs + int64(float64(n)*1000/c.rate) }

// auctionLengthMs: an auction stays open for about twice the event time it takes to create
// numInFlightAuction more auctions, so that about that many are open at any time.
func (c config) auctionLengthMs(n int64, r *rng) int64 {
	ahead := int64(numInFlightAuction * proportionDenom / auctionProportion)
	horizon := c.timeMs(n+ahead) - c.timeMs(n)
	return 1 + r.intn(max(horizon*2, 1))
}
