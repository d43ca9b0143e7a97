// The JSON of each event: flat objects with the Nexmark field names, times as ISO-8601 UTC
// with milliseconds. Built by appending bytes: every string the model makes is letters,
// digits, spaces, '_', '@', '.', '-', '/', ':', '?', '&' and '=', so nothing needs escaping.
package main

import (
	"strconv"
	"time"
)

// encoder appends events to a buffer; it keeps the last second's text, since consecutive
// events share it.
type encoder struct {
	cfg    config
	tab    *tables
	sec    int64
	secTxt []byte
}

func (e *encoder) appendTime(b []byte, ms int64) []byte {
	sec := ms / 1000
	if e.secTxt == nil || sec != e.sec {
		e.sec = sec
		e.secTxt = time.Unix(sec, 0).UTC().AppendFormat(e.secTxt[:0], "2006-01-02T15:04:05")
	}
	b = append(b, '"')
	b = append(b, e.secTxt...)
	frac := ms % 1000
	b = append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10), 'Z', '"')
	return b
}

func appendField(b []byte, name string) []byte {
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"', ':')
}

func appendStr(b []byte, name, v string) []byte {
	b = appendField(b, name)
	b = append(b, '"')
	b = append(b, v...)
	return append(b, '"', ',')
}

func appendInt(b []byte, name string, v int64) []byte {
	b = appendField(b, name)
	b = strconv.AppendInt(b, v, 10)
	return append(b, ',')
}

// appendGen appends a quoted generated string: gen appends its text.
func appendGen(b []byte, name string, gen func([]byte) []byte) ([]byte, int) {
	b = appendField(b, name)
	b = append(b, '"')
	start := len(b)
	b = gen(b)
	n := len(b) - start
	return append(b, '"', ','), n
}

// event appends the JSON of event n and returns its kind and time.
func (e *encoder) event(b []byte, n int64) ([]byte, kind, int64) {
	r := newRng(uint64(n))
	ms := e.cfg.timeMs(n)
	k := kindOf(n)
	switch k {
	case person:
		b = e.person(b, n, &r, ms)
	case auction:
		b = e.auction(b, n, &r, ms)
	default:
		b = e.bid(b, n, &r, ms)
	}
	return b, k, ms
}

func (e *encoder) person(b []byte, n int64, r *rng, ms int64) []byte {
	b = append(b, '{')
	b = appendInt(b, "id", lastPerson(n)+firstPersonID)
	name := firstNames[r.intn(int64(len(firstNames)))] + " " + lastNames[r.intn(int64(len(lastNames)))]
	b = appendStr(b, "name", name)
	b, email := appendGen(b, "emailAddress", func(b []byte) []byte {
		b = appendString(b, r, 7, ' ')
		b = append(b, '@')
		b = appendString(b, r, 5, ' ')
		return append(b, ".com"...)
	})
	b, card := appendGen(b, "creditCard", func(b []byte) []byte {
		for i := 0; i < 4; i++ {
			if i > 0 {
				b = append(b, ' ')
			}
			v := r.intn(10000)
			b = append(b, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
		}
		return b
	})
	city := usCities[r.intn(int64(len(usCities)))]
	state := usStates[r.intn(int64(len(usStates)))]
	b = appendStr(b, "city", city)
	b = appendStr(b, "state", state)
	b = appendField(b, "dateTime")
	b = e.appendTime(b, ms)
	b = append(b, ',')
	size := 8 + len(name) + email + card + len(city) + len(state)
	b, _ = appendGen(b, "extra", func(b []byte) []byte { return appendExtra(b, r, size, avgPersonBytes) })
	b[len(b)-1] = '}'
	return b
}

func (e *encoder) auction(b []byte, n int64, r *rng, ms int64) []byte {
	b = append(b, '{')
	b = appendInt(b, "id", lastAuction(n)+firstAuctionID)
	b, item := appendGen(b, "itemName", func(b []byte) []byte { return appendString(b, r, 20, ' ') })
	b, desc := appendGen(b, "description", func(b []byte) []byte { return appendString(b, r, 100, ' ') })
	initial := price(r)
	b = appendInt(b, "initialBid", initial)
	b = appendInt(b, "reserve", initial+price(r))
	b = appendField(b, "dateTime")
	b = e.appendTime(b, ms)
	b = append(b, ',')
	b = appendField(b, "expires")
	b = e.appendTime(b, ms+e.cfg.auctionLengthMs(n, r))
	b = append(b, ',')
	var seller int64
	if r.intn(hotSellerRatio) > 0 {
		seller = lastPerson(n) / hotBatch * hotBatch
	} else {
		seller = somePerson(n, r)
	}
	b = appendInt(b, "seller", seller+firstPersonID)
	b = appendInt(b, "category", firstCategoryID+r.intn(numCategories))
	size := 8 + item + desc + 8 + 8 + 8 + 8 + 8
	b, _ = appendGen(b, "extra", func(b []byte) []byte { return appendExtra(b, r, size, avgAuctionBytes) })
	b[len(b)-1] = '}'
	return b
}

func (e *encoder) bid(b []byte, n int64, r *rng, ms int64) []byte {
	var auc, bidder int64
	if r.intn(hotAuctionRatio) > 0 {
		auc = lastAuction(n) / hotBatch * hotBatch
	} else {
		auc = someAuction(n, r)
	}
	if r.intn(hotBidderRatio) > 0 {
		// the second of the batch, so that hot bidders are not the hot sellers
		bidder = lastPerson(n)/hotBatch*hotBatch + 1
	} else {
		bidder = somePerson(n, r)
	}
	b = append(b, '{')
	b = appendInt(b, "auction", auc+firstAuctionID)
	b = appendInt(b, "bidder", bidder+firstPersonID)
	b = appendInt(b, "price", price(r))
	var ch channel
	if r.intn(hotChannelRatio) > 0 {
		i := r.intn(int64(len(hotChannels)))
		ch = channel{hotChannels[i], e.tab.hotURLs[i]}
	} else {
		ch = e.tab.channels[r.intn(channelsNumber)]
	}
	b = appendStr(b, "channel", ch.name)
	b = appendStr(b, "url", ch.url)
	b = appendField(b, "dateTime")
	b = e.appendTime(b, ms)
	b = append(b, ',')
	b, _ = appendGen(b, "extra", func(b []byte) []byte { return appendExtra(b, r, 32, avgBidBytes) })
	b[len(b)-1] = '}'
	return b
}
