package iec102

import (
	"errors"
	"math/rand/v2"
	"testing"
)

// junk is what field equipment puts between frames: modem strings, FFH fill, a vendor
// frame starting 01H, stray start octets, a frame with a bad checksum, and a 68H whose
// length octets promise more than the next frame holds. None contains E5H, which would
// be a frame.
var junk = []string{
	"43 4F 4E 4E 45 43 54 20 39 36 30 30 2F 52 4C 50 0D 0A", // "CONNECT 9600/RLP\r\n"
	"FF FF FF",
	"01 02 03 16",
	"10",
	"68 68",
	"10 49 01 00 00 16", // N1, bad checksum
	"68 40 40 68 08",
	"68 0D 0C 68", // N3's header
	"",
	"00",
}

// streamFixture concatenates every valid golden frame with junk between them and
// returns the stream, the frames in order, and the number of junk octets.
func streamFixture(t testing.TB) (stream []byte, frames []Frame, junkLen int) {
	t.Helper()
	for i, tc := range golden {
		if tc.kind != kFrame || tc.err != nil || tc.canonical != "" {
			continue
		}
		raw := unhex(t, tc.raw)
		f, n, err := DecodeFrame(raw)
		if err != nil || n != len(raw) {
			t.Fatalf("%s: %v", tc.name, err)
		}
		j := unhex(t, junk[i%len(junk)])
		stream = append(stream, j...)
		junkLen += len(j)
		stream = append(stream, raw...)
		frames = append(frames, f)
	}
	return stream, frames, junkLen
}

// drain takes every frame the decoder holds, checking that errors are the expected kinds.
func drain(t testing.TB, d *Decoder, got []Frame) []Frame {
	t.Helper()
	for {
		f, err := d.Next()
		switch {
		case err == nil:
			got = append(got, f)
		case errors.Is(err, ErrShortFrame):
			return got
		case !errors.Is(err, ErrFrame):
			t.Fatalf("Next: %v is neither ErrShortFrame nor ErrFrame", err)
		}
	}
}

func checkRecovered(t *testing.T, d *Decoder, got, want []Frame, junkLen int) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("recovered %d frames, want %d", len(got), len(want))
	}
	for i := range want {
		if !got[i].Equal(want[i]) {
			t.Fatalf("frame %d = %v, want %v", i, got[i], want[i])
		}
	}
	if d.Buffered() != 0 {
		t.Errorf("Buffered = %d after the last frame", d.Buffered())
	}
	if d.Discarded() != uint64(junkLen) {
		t.Errorf("Discarded = %d, want the %d junk octets", d.Discarded(), junkLen)
	}
}

// TestDecoderStream splits the stream of every golden frame, with junk between them,
// at every byte boundary, and also feeds it octet by octet and in random chunks: every
// frame must come out, in order, and every junk octet be counted as discarded.
func TestDecoderStream(t *testing.T) {
	stream, want, junkLen := streamFixture(t)
	t.Logf("%d frames, %d octets, %d of junk", len(want), len(stream), junkLen)

	for k := 0; k <= len(stream); k++ {
		var d Decoder
		d.Write(stream[:k])
		got := drain(t, &d, nil)
		d.Write(stream[k:])
		got = drain(t, &d, got)
		checkRecovered(t, &d, got, want, junkLen)
		if t.Failed() {
			t.Fatalf("split at %d", k)
		}
	}

	t.Run("octet by octet", func(t *testing.T) {
		var d Decoder
		var got []Frame
		for i := range stream {
			d.Write(stream[i : i+1])
			got = drain(t, &d, got)
		}
		checkRecovered(t, &d, got, want, junkLen)
	})

	t.Run("random chunks", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		for range 200 {
			var d Decoder
			var got []Frame
			for rest := stream; len(rest) > 0; {
				n := min(len(rest), 1+rng.IntN(300))
				d.Write(rest[:n])
				rest = rest[n:]
				got = drain(t, &d, got)
			}
			checkRecovered(t, &d, got, want, junkLen)
		}
	})
}

func TestDecoderNextCopiesASDU(t *testing.T) {
	var d Decoder
	raw := unhex(t, golden[7].raw) // F8
	d.Write(raw)
	f, err := d.Next()
	if err != nil {
		t.Fatal(err)
	}
	d.Write(make([]byte, 64)) // reuses the buffer
	if f.ASDU[0] != byte(TypeStartSession) {
		t.Fatalf("ASDU aliases the decoder's buffer: % X", f.ASDU)
	}
}

func TestDecoderSkipAndReset(t *testing.T) {
	var d Decoder
	d.Write(unhex(t, "68 40 40 68 08 01 00 10 49 01 00 4A 16"))
	if _, err := d.Next(); !errors.Is(err, ErrShortFrame) {
		t.Fatalf("Next = %v, want ErrShortFrame (waiting for L=64)", err)
	}
	var got []Frame
	for d.Buffered() > 0 {
		d.Skip()
		got = drain(t, &d, got)
	}
	if len(got) != 1 || got[0].Control != 0x49 {
		t.Fatalf("after Skip: %v, want the status request behind the junk", got)
	}
	if d.Discarded() != 7 {
		t.Errorf("Discarded = %d, want 7", d.Discarded())
	}
	d.Write([]byte{0x68, 0x05})
	d.Reset()
	if d.Buffered() != 0 || d.Discarded() != 9 {
		t.Errorf("after Reset: Buffered %d, Discarded %d; want 0, 9", d.Buffered(), d.Discarded())
	}
}
