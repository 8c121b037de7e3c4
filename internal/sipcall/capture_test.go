package sipcall

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"
)

// rtpPacket is one packet read back from a capture.
type rtpPacket struct {
	at       time.Duration // from the first packet
	pt       uint8
	marker   bool
	seq      uint16
	ts, ssrc uint32
	payload  []byte
	srcPort  uint16
	dstPort  uint16
}

// readCapture parses a pcap written by WriteDTMFCapture, checking the
// framing, lengths and checksums on the way.
func readCapture(t *testing.T, b []byte) []rtpPacket {
	t.Helper()
	if len(b) < 24 {
		t.Fatalf("capture of %d bytes", len(b))
	}
	le := binary.LittleEndian
	if le.Uint32(b) != 0xa1b2c3d4 || le.Uint16(b[4:]) != 2 || le.Uint16(b[6:]) != 4 || le.Uint32(b[20:]) != 1 {
		t.Fatalf("pcap header % x", b[:24])
	}
	var pkts []rtpPacket
	var first time.Duration
	off := 24
	for off < len(b) {
		if off+16 > len(b) {
			t.Fatalf("truncated record header at %d", off)
		}
		sec, usec := le.Uint32(b[off:]), le.Uint32(b[off+4:])
		incl, orig := int(le.Uint32(b[off+8:])), int(le.Uint32(b[off+12:]))
		if incl != orig {
			t.Fatalf("packet %d: caplen %d != len %d (SIPp refuses truncated packets)", len(pkts), incl, orig)
		}
		off += 16
		f := b[off : off+incl]
		off += incl
		at := time.Duration(sec)*time.Second + time.Duration(usec)*time.Microsecond
		if len(pkts) == 0 {
			first = at
		}
		if binary.BigEndian.Uint16(f[12:]) != 0x0800 {
			t.Fatalf("packet %d: ethertype %#x", len(pkts), binary.BigEndian.Uint16(f[12:]))
		}
		ip := f[14:]
		if ip[0] != 0x45 || ip[9] != 17 || int(binary.BigEndian.Uint16(ip[2:])) != len(ip) {
			t.Fatalf("packet %d: IPv4 header % x", len(pkts), ip[:20])
		}
		if onesSum(0, ip[:20]) != 0xFFFF {
			t.Fatalf("packet %d: bad IPv4 checksum", len(pkts))
		}
		udp := ip[20:]
		if int(binary.BigEndian.Uint16(udp[4:])) != len(udp) {
			t.Fatalf("packet %d: UDP length %d, have %d", len(pkts), binary.BigEndian.Uint16(udp[4:]), len(udp))
		}
		pseudo := append(append(append([]byte{}, ip[12:20]...), 0, 17), byte(len(udp)>>8), byte(len(udp)))
		if onesSum(onesSum(0, pseudo), udp) != 0xFFFF {
			t.Fatalf("packet %d: bad UDP checksum", len(pkts))
		}
		rtp := udp[8:]
		if rtp[0] != 0x80 {
			t.Fatalf("packet %d: RTP byte 0 %#x (want version 2, no padding/extension/CSRC)", len(pkts), rtp[0])
		}
		pkts = append(pkts, rtpPacket{
			at:      at - first,
			pt:      rtp[1] & 0x7F,
			marker:  rtp[1]&0x80 != 0,
			seq:     binary.BigEndian.Uint16(rtp[2:]),
			ts:      binary.BigEndian.Uint32(rtp[4:]),
			ssrc:    binary.BigEndian.Uint32(rtp[8:]),
			payload: rtp[12:],
			srcPort: binary.BigEndian.Uint16(udp[0:]),
			dstPort: binary.BigEndian.Uint16(udp[2:]),
		})
	}
	return pkts
}

// event is an RFC 4733 event as read back from a stream.
type event struct {
	digit     rune
	at        time.Duration // time of its first packet
	ts        uint32
	packets   int // before the end packets
	ends      int
	durations []uint16
	final     uint16
}

var digitOfCode = "0123456789*#ABCD"

// checkStream asserts the invariants of a generated stream and returns its
// events in order.
func checkStream(t *testing.T, pkts []rtpPacket, opts CaptureOptions) []event {
	t.Helper()
	var evs []event
	var cur *event
	for i, p := range pkts {
		if want := opts.FirstSeq + uint16(i); p.seq != want {
			t.Fatalf("packet %d: seq %d, want %d (rising by one)", i, p.seq, want)
		}
		if want := time.Duration(i) * PacketInterval; p.at != want {
			t.Fatalf("packet %d: at %v, want %v", i, p.at, want)
		}
		if opts.SSRC != 0 && p.ssrc != opts.SSRC {
			t.Fatalf("packet %d: ssrc %#x", i, p.ssrc)
		}
		if i > 0 {
			if p.ssrc != pkts[0].ssrc {
				t.Fatalf("packet %d: ssrc changed", i)
			}
			if int32(p.ts-pkts[i-1].ts) < 0 {
				t.Fatalf("packet %d: timestamp %d after %d goes back", i, p.ts, pkts[i-1].ts)
			}
		}
		switch p.pt {
		case PayloadPCMU:
			cur = nil
			if want := opts.FirstTS + uint32(i)*samplesPerPacket; p.ts != want {
				t.Fatalf("audio packet %d: ts %d, want %d", i, p.ts, want)
			}
			if len(p.payload) != samplesPerPacket || bytes.Count(p.payload, []byte{0xFF}) != samplesPerPacket {
				t.Fatalf("audio packet %d: not 160 bytes of PCMU silence", i)
			}
			if p.marker != (i == 0) {
				t.Fatalf("audio packet %d: marker %v", i, p.marker)
			}
		case PayloadEvent:
			if len(p.payload) != 4 {
				t.Fatalf("event packet %d: payload of %d bytes", i, len(p.payload))
			}
			code, flags, dur := p.payload[0], p.payload[1], binary.BigEndian.Uint16(p.payload[2:])
			end := flags&0x80 != 0
			if flags&0x40 != 0 {
				t.Fatalf("event packet %d: reserved bit set", i)
			}
			if int(code) >= len(digitOfCode) {
				t.Fatalf("event packet %d: code %d", i, code)
			}
			if cur == nil || cur.ends > 0 && !end || cur.digit != rune(digitOfCode[code]) {
				// a new event
				if end {
					t.Fatalf("event packet %d: event starts with an end packet", i)
				}
				if !p.marker {
					t.Fatalf("event packet %d: first packet of an event without marker", i)
				}
				if want := opts.FirstTS + uint32(i)*samplesPerPacket; p.ts != want {
					t.Fatalf("event packet %d: ts %d, want %d (the time of its first packet)", i, p.ts, want)
				}
				evs = append(evs, event{digit: rune(digitOfCode[code]), at: p.at, ts: p.ts})
				cur = &evs[len(evs)-1]
			} else if p.marker {
				t.Fatalf("event packet %d: marker on a continuation", i)
			}
			if p.ts != cur.ts {
				t.Fatalf("event packet %d: ts %d within an event of ts %d", i, p.ts, cur.ts)
			}
			if end {
				cur.ends++
				if cur.ends > endPackets {
					t.Fatalf("event packet %d: more than %d end packets", i, endPackets)
				}
				if cur.ends == 1 {
					cur.final = dur
				} else if dur != cur.final {
					t.Fatalf("event packet %d: end duration %d, earlier %d", i, dur, cur.final)
				}
			} else {
				cur.packets++
				if want := uint16(cur.packets * samplesPerPacket); dur != want {
					t.Fatalf("event packet %d: duration %d, want %d (growing by 160)", i, dur, want)
				}
				cur.durations = append(cur.durations, dur)
			}
		default:
			t.Fatalf("packet %d: payload type %d", i, p.pt)
		}
	}
	for _, e := range evs {
		if e.ends != endPackets {
			t.Fatalf("event %q at %v: %d end packets, want %d", e.digit, e.at, e.ends, endPackets)
		}
		if e.final != e.durations[len(e.durations)-1] {
			t.Fatalf("event %q: final duration %d, last %d", e.digit, e.final, e.durations[len(e.durations)-1])
		}
	}
	return evs
}

func capture(t *testing.T, script []Key, opts CaptureOptions) []rtpPacket {
	t.Helper()
	var b bytes.Buffer
	if err := WriteDTMFCapture(&b, script, opts); err != nil {
		t.Fatal(err)
	}
	return readCapture(t, b.Bytes())
}

func TestCaptureScript(t *testing.T) {
	script := []Key{
		{Digit: '5', At: 1 * time.Second},
		{Digit: '2', At: 1460 * time.Millisecond},
		{Digit: '#', At: 1920 * time.Millisecond, Duration: 100 * time.Millisecond},
		{Digit: '*', At: 3 * time.Second, Duration: 250 * time.Millisecond}, // 13 packets
		{Digit: '0', At: 3400 * time.Millisecond},
		{Digit: 'D', At: 4 * time.Second},
	}
	opts := CaptureOptions{Duration: 5 * time.Second, SSRC: 0xdeadbeef, FirstSeq: 65500, FirstTS: 4294960000}
	pkts := capture(t, script, opts)
	if len(pkts) != 250 {
		t.Fatalf("%d packets, want 250 (5 s of 20 ms)", len(pkts))
	}
	evs := checkStream(t, pkts, opts)
	if len(evs) != len(script) {
		t.Fatalf("%d events, want %d", len(evs), len(script))
	}
	for i, k := range script {
		e := evs[i]
		d := k.Duration
		if d == 0 {
			d = DefaultToneDuration
		}
		if e.digit != k.Digit || e.at != k.At {
			t.Errorf("event %d: %q at %v, want %q at %v", i, e.digit, e.at, k.Digit, k.At)
		}
		wantPkts := int((d + PacketInterval - 1) / PacketInterval)
		if e.packets != wantPkts || e.final != uint16(wantPkts*samplesPerPacket) {
			t.Errorf("event %d (%q, %v): %d packets, final duration %d; want %d, %d",
				i, e.digit, d, e.packets, e.final, wantPkts, wantPkts*samplesPerPacket)
		}
	}
	// sequence numbers wrapped past 65535 and timestamps past 2^32 on the way
	if pkts[len(pkts)-1].seq >= pkts[0].seq || pkts[len(pkts)-1].ts >= pkts[0].ts {
		t.Fatalf("expected seq and ts to wrap: first %d/%d last %d/%d",
			pkts[0].seq, pkts[0].ts, pkts[len(pkts)-1].seq, pkts[len(pkts)-1].ts)
	}
}

func TestCaptureEveryKeyAndDefaults(t *testing.T) {
	keys := "0123456789*#ABCD"
	p, err := NewPlan(Wait(200*time.Millisecond), Press(keys))
	if err != nil {
		t.Fatal(err)
	}
	pkts := capture(t, p.Keys, CaptureOptions{Duration: p.Length})
	evs := checkStream(t, pkts, CaptureOptions{})
	var got strings.Builder
	for _, e := range evs {
		got.WriteRune(e.digit)
	}
	if got.String() != keys {
		t.Fatalf("events %q, want %q", got.String(), keys)
	}
	if pkts[0].ssrc == 0 {
		t.Fatal("SSRC 0: want a random one")
	}
	if pkts[0].dstPort != 10000 || pkts[0].srcPort != 40000 {
		t.Fatalf("ports %d -> %d", pkts[0].srcPort, pkts[0].dstPort)
	}
	if want := int(p.Length / PacketInterval); len(pkts) != want {
		t.Fatalf("%d packets, want %d", len(pkts), want)
	}
	// volume defaults to 10
	for _, pk := range pkts {
		if pk.pt == PayloadEvent && pk.payload[1]&0x3F != 10 {
			t.Fatalf("volume %d", pk.payload[1]&0x3F)
		}
	}
}

func TestCaptureExtendsToLastKey(t *testing.T) {
	// no Duration: the stream ends with the last end packet
	pkts := capture(t, []Key{{Digit: '1', At: 100 * time.Millisecond}}, CaptureOptions{})
	if want := 5 + 8 + endPackets; len(pkts) != want {
		t.Fatalf("%d packets, want %d", len(pkts), want)
	}
	last := pkts[len(pkts)-1]
	if last.pt != PayloadEvent || last.payload[1]&0x80 == 0 {
		t.Fatal("last packet is not an end packet")
	}
	// no keys: silence only
	pkts = capture(t, nil, CaptureOptions{Duration: time.Second})
	if len(pkts) != 50 {
		t.Fatalf("%d packets of silence, want 50", len(pkts))
	}
	checkStream(t, pkts, CaptureOptions{})
}

func TestCaptureRoundsToPacketGrid(t *testing.T) {
	pkts := capture(t, []Key{{Digit: '7', At: 109 * time.Millisecond, Duration: 90 * time.Millisecond}}, CaptureOptions{})
	evs := checkStream(t, pkts, CaptureOptions{})
	if evs[0].at != 100*time.Millisecond || evs[0].packets != 5 {
		t.Fatalf("event at %v with %d packets, want 100ms and 5", evs[0].at, evs[0].packets)
	}
}

func TestCaptureErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script []Key
		want   string
	}{
		{"bad digit", []Key{{Digit: 'x'}}, "not a DTMF key"},
		{"overlap", []Key{{Digit: '1', At: 0}, {Digit: '2', At: 200 * time.Millisecond}}, "overlaps"},
		{"out of order", []Key{{Digit: '1', At: time.Second}, {Digit: '2', At: 0}}, "overlaps"},
		{"negative", []Key{{Digit: '1', At: -time.Second}}, "negative"},
		{"too long", []Key{{Digit: '1', Duration: 10 * time.Second}}, "too long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := WriteDTMFCapture(&bytes.Buffer{}, tc.script, CaptureOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
	// keys just far enough apart: tone + 3 end packets
	ok := []Key{{Digit: '1', At: 0}, {Digit: '2', At: DefaultToneDuration + endPackets*PacketInterval}}
	if err := WriteDTMFCapture(&bytes.Buffer{}, ok, CaptureOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestEventCode(t *testing.T) {
	for d, want := range map[rune]uint8{'0': 0, '9': 9, '*': 10, '#': 11, 'A': 12, 'd': 15} {
		if got, err := EventCode(d); err != nil || got != want {
			t.Errorf("EventCode(%q) = %d, %v; want %d", d, got, err, want)
		}
	}
	if _, err := EventCode('E'); err == nil {
		t.Error("EventCode('E'): no error")
	}
}

func ExampleWriteDTMFCapture() {
	plan, _ := NewPlan(Wait(time.Second), Press("52#"), Hangup())
	var b bytes.Buffer
	_ = WriteDTMFCapture(&b, plan.Keys, CaptureOptions{Duration: plan.Length})
	fmt.Println(plan.Digits(), plan.Length, b.Len())
	// Output: 52# 2.38s 22246
}
