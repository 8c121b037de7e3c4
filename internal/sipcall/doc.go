// Package sipcall places real SIP calls with SIPp for the integration tests:
// a caller dials an extension of the sandbox Asterisk, sends DTMF, and hangs
// up or waits for the far end to.
//
//	res, err := sipcall.Place(ctx, sipcall.Call{
//		Exten: "10086", From: "13800138000", Mode: sipcall.RFC2833,
//		Steps: []sipcall.Step{
//			sipcall.Wait(6 * time.Second), // the welcome prompt
//			sipcall.Press("1"),
//			sipcall.Wait(3 * time.Second), sipcall.Press("13800138000#"),
//			sipcall.Wait(4 * time.Second), sipcall.Hangup(),
//		},
//	})
//	// res.Answered, res.FarEndHangup / res.HungUp, res.Duration
//
// Steps start with media, right after our ACK of the 200 OK. Press sends
// each key as a 160 ms tone plus 300 ms of silence. Without a final Hangup()
// the caller waits (up to Call.MaxWait) for Asterisk's BYE; a BYE from
// Asterisk at any point of the plan ends the call cleanly (FarEndHangup).
// ScriptSteps turns a flow-engine script ("t 1 13800138000# h") into steps.
//
// RFC2833 mode sends RFC 4733 events inside one RTP stream that Place
// generates per call (WriteDTMFCapture): PCMU silence every 20 ms for the
// whole call with the events at their times, sequence numbers and
// timestamps rising throughout, replayed once by SIPp's play_pcap_audio.
// (The captures SIPp ships are cut from one recording: replaying "5" after
// "2" makes Asterisk drop the later one as stale.) SIPInfo mode sends one
// INFO (application/dtmf-relay) per key, offers PCMU only, and still plays
// the silence.
//
// The SIPp scenario is the template test/sipp/uac-dtmf.xml (found upwards
// from the working directory, or $UNSUB_SIPP_DIR), rendered per call. Calls
// without Auth carry the header "X-Unsub-Test: sipp", which selects the
// sipp endpoint of asterisk/pjsip_sipp.conf (context unsub-test); with Auth
// they answer a 401/407 digest challenge instead (e.g. endpoint tester).
// Asterisk is at $UNSUB_SIP_ADDR, else 127.0.0.1:5060. Each SIPp process
// gets its own local ports (SIP, control, media), so calls run in parallel
// (PlaceMany).
//
// Requirements: sipp (Debian sip-tester) with pcap play, run as root (it
// replays captures through a raw socket). Unit tests need neither; the
// loopback tests (UNSUB_SIPP=1, a SIPp stand-in IVR) and the live tests
// (UNSUB_LIVE=1, the running sandbox Asterisk) are skipped otherwise.
package sipcall
