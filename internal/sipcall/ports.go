package sipcall

import (
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
)

// Local ports: blocks of portBlock ports between portLow and portHigh, under
// Linux's ephemeral range and above Asterisk's RTP range (10000-20000). A
// block is [SIP, SIPp control, RTP, RTCP, video RTP, video RTCP, -, -]: SIPp
// binds the SIP port (-p), its control port (-cp, on all addresses; default
// 8888 for every SIPp, so set explicitly), the media port (-mp) and -mp+2.
// Each process starts at a random block, so that test binaries running at the
// same time rarely probe the same ports; a block is probed by binding its
// ports, and SIPp failing to bind is retried by Place with another block.
const (
	portLow   = 21000
	portHigh  = 32760
	portBlock = 8
)

type localPorts struct {
	SIP, Control, Media int
}

var portPool struct {
	sync.Mutex
	next  int
	inUse map[int]bool
}

func (cl *Client) ports(c Call) (p localPorts, release func(), err error) {
	portPool.Lock()
	defer portPool.Unlock()
	if portPool.inUse == nil {
		portPool.inUse = map[int]bool{}
		portPool.next = rand.IntN((portHigh - portLow) / portBlock)
	}
	n := (portHigh - portLow) / portBlock
	for tries := 0; tries < n; tries++ {
		b := portPool.next
		portPool.next = (portPool.next + 1) % n
		if portPool.inUse[b] {
			continue
		}
		base := portLow + b*portBlock
		if !udpFree(cl.localIP(), base, base+2, base+3, base+4, base+5) || !udpFree("0.0.0.0", base+1) {
			continue
		}
		portPool.inUse[b] = true
		p = localPorts{SIP: base, Control: base + 1, Media: base + 2}
		if c.SIPPort != 0 {
			p.SIP = c.SIPPort
		}
		if c.MediaPort != 0 {
			p.Media = c.MediaPort
		}
		return p, func() {
			portPool.Lock()
			delete(portPool.inUse, b)
			portPool.Unlock()
		}, nil
	}
	return p, nil, errors.New("sipcall: no free local UDP ports")
}

func (cl *Client) localIP() string {
	if cl.LocalIP != "" {
		return cl.LocalIP
	}
	return "127.0.0.1"
}

// udpFree reports whether all the ports can be bound on ip now.
func udpFree(ip string, ports ...int) bool {
	var conns []net.PacketConn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for _, p := range ports {
		c, err := net.ListenPacket("udp4", net.JoinHostPort(ip, strconv.Itoa(p)))
		if err != nil {
			return false
		}
		conns = append(conns, c)
	}
	return true
}
