package browser

import (
	"bytes"
	"fmt"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// FakeCamera writes a YUV4MPEG2 video of w×h frames, each of the PNGs
// centred on white in turn (half a second each), and returns its path: what
// Chromium's fake camera plays in a loop, started with
// --use-fake-device-for-media-stream, --use-fake-ui-for-media-stream and
// --use-file-for-fake-video-capture=<path>. Tests of camera scanning feed
// it the QR of a real seal.
func FakeCamera(t testing.TB, w, h int, pngs ...[]byte) string {
	t.Helper()
	var out bytes.Buffer
	fmt.Fprintf(&out, "YUV4MPEG2 W%d H%d F10:1 Ip A1:1 C420jpeg\n", w, h)
	chroma := bytes.Repeat([]byte{128}, w*h/4)
	for _, p := range pngs {
		img, err := png.Decode(bytes.NewReader(p))
		if err != nil {
			t.Fatal(err)
		}
		luma := bytes.Repeat([]byte{235}, w*h)
		b := img.Bounds()
		ox, oy := (w-b.Dx())/2, (h-b.Dy())/2
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				g := color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y
				px, py := ox+x-b.Min.X, oy+y-b.Min.Y
				if px >= 0 && px < w && py >= 0 && py < h {
					luma[py*w+px] = 16 + byte(int(g)*219/255)
				}
			}
		}
		for range 5 { // half a second of each
			out.WriteString("FRAME\n")
			out.Write(luma)
			out.Write(chroma)
			out.Write(chroma)
		}
	}
	f := filepath.Join(t.TempDir(), "camera.y4m")
	if err := os.WriteFile(f, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}
