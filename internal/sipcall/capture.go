package sipcall

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"time"
)

// Key is one DTMF key press of a capture.
type Key struct {
	Digit    rune          // 0-9, *, #, A-D
	At       time.Duration // start of the tone, from the start of media
	Duration time.Duration // tone length; 0 means DefaultToneDuration
}

// Default timing of key presses.
const (
	DefaultToneDuration = 160 * time.Millisecond // tone length of a key
	DefaultKeyGap       = 300 * time.Millisecond // silence after each key
	PacketInterval      = 20 * time.Millisecond  // one RTP packet per 20 ms
	endPackets          = 3                      // RFC 4733 end packets per event
	samplesPerPacket    = 160                    // 20 ms at 8 kHz
)

// RTP payload types of the capture (the SDP of the scenario offers these).
const (
	PayloadPCMU  = 0
	PayloadEvent = 101
)

// CaptureOptions are the parameters of a generated capture. Zero values pick
// defaults; the addresses and ports only need to be consistent, as SIPp
// rewrites them to the call's media addresses.
type CaptureOptions struct {
	// Length of the stream; it is extended to cover the last key's end
	// packets. Rounded up to a whole packet.
	Duration time.Duration
	// RTP identifiers: the first packet's sequence number and timestamp.
	// SSRC 0 means a random one.
	SSRC      uint32
	FirstSeq  uint16
	FirstTS   uint32
	Volume    uint8 // RFC 4733 volume field (-dBm0, 0-63); 0 means 10
	Start     time.Time
	Src, Dst  netip.AddrPort // default 127.0.0.1:40000 -> 127.0.0.1:10000
	EventType uint8          // payload type of events; 0 means PayloadEvent (101)
}

// EventCode is the RFC 4733 event code of a DTMF key: 0-9, *=10, #=11, A-D=12-15.
func EventCode(d rune) (uint8, error) {
	switch {
	case d >= '0' && d <= '9':
		return uint8(d - '0'), nil
	case d == '*':
		return 10, nil
	case d == '#':
		return 11, nil
	case d >= 'A' && d <= 'D':
		return uint8(d-'A') + 12, nil
	case d >= 'a' && d <= 'd':
		return uint8(d-'a') + 12, nil
	}
	return 0, fmt.Errorf("sipcall: %q is not a DTMF key (0-9, *, #, A-D)", d)
}

// slot is what one 20 ms packet slot of the stream carries.
type slot struct {
	event    bool
	code     uint8
	startTS  uint32 // event timestamp (its first slot)
	duration uint16 // event duration field, in samples
	marker   bool
	end      bool
}

// WriteDTMFCapture writes a pcap (Ethernet, IPv4, UDP, RTP) of one RTP stream:
// a packet every 20 ms from t=0 to the end, PCMU silence except while a key is
// sent as RFC 4733 events (first packet with the marker bit, one timestamp for
// the whole event, duration growing by 160 samples per packet, then three end
// packets with the E bit). Sequence numbers rise by one per packet and
// timestamps never go back, through the whole script. Key times are rounded
// to the 20 ms packet grid; keys must not overlap (a key's end packets
// included). script must be in time order.
func WriteDTMFCapture(w io.Writer, script []Key, opts CaptureOptions) error {
	slots, err := layout(script, opts.Duration)
	if err != nil {
		return err
	}
	if opts.SSRC == 0 {
		var b [4]byte
		if _, err := rand.Read(b[:]); err != nil {
			return err
		}
		opts.SSRC = binary.BigEndian.Uint32(b[:]) | 1
	}
	if opts.Volume == 0 {
		opts.Volume = 10
	}
	if opts.EventType == 0 {
		opts.EventType = PayloadEvent
	}
	if !opts.Src.IsValid() {
		opts.Src = netip.MustParseAddrPort("127.0.0.1:40000")
	}
	if !opts.Dst.IsValid() {
		opts.Dst = netip.MustParseAddrPort("127.0.0.1:10000")
	}
	if !opts.Src.Addr().Is4() || !opts.Dst.Addr().Is4() {
		return fmt.Errorf("sipcall: capture addresses must be IPv4")
	}
	if opts.Start.IsZero() {
		opts.Start = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	}

	pw := &pcapWriter{w: w, src: opts.Src, dst: opts.Dst}
	if err := pw.header(); err != nil {
		return err
	}
	silence := make([]byte, samplesPerPacket)
	for i := range silence {
		silence[i] = 0xFF // PCMU (mu-law) zero
	}
	rtp := make([]byte, 0, 12+samplesPerPacket)
	for i, s := range slots {
		seq := opts.FirstSeq + uint16(i)
		rtp = rtp[:0]
		if s.event {
			rtp = rtpHeader(rtp, s.marker, opts.EventType, seq, opts.FirstTS+s.startTS, opts.SSRC)
			flags := opts.Volume & 0x3F
			if s.end {
				flags |= 0x80
			}
			rtp = append(rtp, s.code, flags, byte(s.duration>>8), byte(s.duration))
		} else {
			rtp = rtpHeader(rtp, i == 0, PayloadPCMU, seq, opts.FirstTS+uint32(i)*samplesPerPacket, opts.SSRC)
			rtp = append(rtp, silence...)
		}
		if err := pw.packet(opts.Start.Add(time.Duration(i)*PacketInterval), rtp); err != nil {
			return err
		}
	}
	return nil
}

// layout assigns the stream's packet slots.
func layout(script []Key, length time.Duration) ([]slot, error) {
	n := slotsCeil(length)
	type ev struct {
		code        uint8
		start, dur  int // slots
		durSamples  int
		digit       rune
		at, toneLen time.Duration
	}
	evs := make([]ev, 0, len(script))
	for i, k := range script {
		code, err := EventCode(k.Digit)
		if err != nil {
			return nil, err
		}
		if k.At < 0 || k.Duration < 0 {
			return nil, fmt.Errorf("sipcall: key %d (%q): negative time", i, k.Digit)
		}
		d := k.Duration
		if d == 0 {
			d = DefaultToneDuration
		}
		dur := slotsCeil(d)
		if dur*samplesPerPacket > 0xFFFF {
			return nil, fmt.Errorf("sipcall: key %d (%q): tone of %v too long", i, k.Digit, d)
		}
		e := ev{code: code, start: slotsRound(k.At), dur: dur, durSamples: dur * samplesPerPacket, digit: k.Digit, at: k.At, toneLen: d}
		if len(evs) > 0 {
			p := evs[len(evs)-1]
			if e.start < p.start+p.dur+endPackets {
				return nil, fmt.Errorf("sipcall: key %d (%q at %v) overlaps key %d (%q at %v, %v tone + %d end packets)",
					i, k.Digit, k.At, i-1, p.digit, p.at, p.toneLen, endPackets)
			}
		}
		evs = append(evs, e)
		if end := e.start + e.dur + endPackets; end > n {
			n = end
		}
	}
	slots := make([]slot, n)
	for _, e := range evs {
		ts := uint32(e.start) * samplesPerPacket
		for j := 0; j < e.dur; j++ {
			slots[e.start+j] = slot{event: true, code: e.code, startTS: ts, duration: uint16((j + 1) * samplesPerPacket), marker: j == 0}
		}
		for j := 0; j < endPackets; j++ {
			slots[e.start+e.dur+j] = slot{event: true, code: e.code, startTS: ts, duration: uint16(e.durSamples), end: true}
		}
	}
	return slots, nil
}

func slotsCeil(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + PacketInterval - 1) / PacketInterval)
}

func slotsRound(d time.Duration) int { return int((d + PacketInterval/2) / PacketInterval) }

func rtpHeader(b []byte, marker bool, pt uint8, seq uint16, ts, ssrc uint32) []byte {
	m := pt & 0x7F
	if marker {
		m |= 0x80
	}
	b = append(b, 0x80, m)
	b = binary.BigEndian.AppendUint16(b, seq)
	b = binary.BigEndian.AppendUint32(b, ts)
	return binary.BigEndian.AppendUint32(b, ssrc)
}

// pcapWriter writes classic little-endian pcap with microsecond timestamps and
// Ethernet link type, the format SIPp's play_pcap_audio reads.
type pcapWriter struct {
	w        io.Writer
	src, dst netip.AddrPort
	ipID     uint16
	buf      []byte
}

func (p *pcapWriter) header() error {
	h := make([]byte, 0, 24)
	h = binary.LittleEndian.AppendUint32(h, 0xa1b2c3d4) // magic, microseconds
	h = binary.LittleEndian.AppendUint16(h, 2)          // version 2.4
	h = binary.LittleEndian.AppendUint16(h, 4)
	h = binary.LittleEndian.AppendUint32(h, 0)     // thiszone
	h = binary.LittleEndian.AppendUint32(h, 0)     // sigfigs
	h = binary.LittleEndian.AppendUint32(h, 65535) // snaplen
	h = binary.LittleEndian.AppendUint32(h, 1)     // LINKTYPE_ETHERNET
	_, err := p.w.Write(h)
	return err
}

func (p *pcapWriter) packet(t time.Time, payload []byte) error {
	udpLen := 8 + len(payload)
	ipLen := 20 + udpLen
	frameLen := 14 + ipLen
	b := p.buf[:0]
	us := t.UnixMicro()
	b = binary.LittleEndian.AppendUint32(b, uint32(us/1e6))
	b = binary.LittleEndian.AppendUint32(b, uint32(us%1e6))
	b = binary.LittleEndian.AppendUint32(b, uint32(frameLen)) // captured
	b = binary.LittleEndian.AppendUint32(b, uint32(frameLen)) // on the wire
	// Ethernet: locally administered MACs, IPv4
	b = append(b, 0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00)
	ip := len(b)
	src, dst := p.src.Addr().As4(), p.dst.Addr().As4()
	b = append(b, 0x45, 0xB8) // IPv4, IHL 5; DSCP EF
	b = binary.BigEndian.AppendUint16(b, uint16(ipLen))
	b = binary.BigEndian.AppendUint16(b, p.ipID)
	p.ipID++
	b = append(b, 0x40, 0x00, 64, 17, 0, 0) // DF, TTL 64, UDP, checksum below
	b = append(b, src[:]...)
	b = append(b, dst[:]...)
	binary.BigEndian.PutUint16(b[ip+10:], ^onesSum(0, b[ip:ip+20]))
	udp := len(b)
	b = binary.BigEndian.AppendUint16(b, p.src.Port())
	b = binary.BigEndian.AppendUint16(b, p.dst.Port())
	b = binary.BigEndian.AppendUint16(b, uint16(udpLen))
	b = append(b, 0, 0)
	b = append(b, payload...)
	// UDP checksum over the pseudo-header and the datagram
	var pseudo [12]byte
	copy(pseudo[0:], src[:])
	copy(pseudo[4:], dst[:])
	pseudo[9] = 17
	binary.BigEndian.PutUint16(pseudo[10:], uint16(udpLen))
	sum := ^onesSum(onesSum(0, pseudo[:]), b[udp:])
	if sum == 0 {
		sum = 0xFFFF
	}
	binary.BigEndian.PutUint16(b[udp+6:], sum)
	p.buf = b
	_, err := p.w.Write(b)
	return err
}

// onesSum adds b as big-endian 16-bit words to the ones' complement sum s.
func onesSum(s uint16, b []byte) uint16 {
	sum := uint32(s)
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xFFFF {
		sum = sum>>16 + sum&0xFFFF
	}
	return uint16(sum)
}
