package scanner_test

import (
	"testing"

	"valise/internal/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }
