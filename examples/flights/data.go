package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// Data sets of the demo with their sha256 (../shared/data/README.md;
// vega-datasets 3.2.1).
var dataSHA256 = map[string]string{
	"flights-3m.parquet": "dbeb920c90f59b6ccaff823dcc3d08f25a97fa1ce128d93f40be4e931f5900b0",
	"airports.csv":       "903c7169e6d558eefb95295fe2947ec8503135fbb855ea5c737cf4a90ea603ad",
}

// dataset is where the demo reads its input.
type dataset struct {
	Flights, Airports string
	Origin            string // where it came from, for the report
}

// findData picks the demo's input, in order: $PCS_DATA_DIR; the shared
// data directory beside the repository (../shared/data); a copy fetched
// once with `npm pack vega-datasets@3.2.1` into .cache/pcs-data and
// verified by sha256; the 50,000-row real slice shipped in testdata/, so
// the demo also works offline.
func findData(repo string) (dataset, error) {
	dirs := []string{os.Getenv("PCS_DATA_DIR"), filepath.Join(repo, "..", "shared", "data"), filepath.Join(repo, ".cache", "pcs-data")}
	for _, d := range dirs {
		if d != "" && exists(filepath.Join(d, "flights-3m.parquet")) && exists(filepath.Join(d, "airports.csv")) {
			return dataset{Flights: filepath.Join(d, "flights-3m.parquet"), Airports: filepath.Join(d, "airports.csv"), Origin: d}, nil
		}
	}
	cache := dirs[2]
	if err := fetchVega(cache); err == nil {
		return dataset{Flights: filepath.Join(cache, "flights-3m.parquet"), Airports: filepath.Join(cache, "airports.csv"), Origin: "npm vega-datasets@3.2.1"}, nil
	} else {
		fmt.Fprintf(os.Stderr, "flights: no flights-3m.parquet (fetch failed: %v); using the 50k-row slice in testdata\n", err)
	}
	td := filepath.Join(repo, "examples", "flights", "testdata")
	return dataset{Flights: filepath.Join(td, "flights-50k.parquet"), Airports: filepath.Join(td, "airports.csv"), Origin: td}, nil
}

// fetchVega downloads vega-datasets@3.2.1 with npm into dir and keeps the
// two files after checking their sha256.
func fetchVega(dir string) error {
	if _, err := exec.LookPath("npm"); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "pcs-vega-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("npm", "pack", "vega-datasets@3.2.1", "--silent", "--pack-destination", tmp)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm pack: %w", err)
	}
	tgz, _ := filepath.Glob(filepath.Join(tmp, "vega-datasets-*.tgz"))
	if len(tgz) != 1 {
		return fmt.Errorf("npm pack left %d tarballs", len(tgz))
	}
	if out, err := exec.Command("tar", "-xzf", tgz[0], "-C", tmp, "package/data/flights-3m.parquet", "package/data/airports.csv").CombinedOutput(); err != nil {
		return fmt.Errorf("tar: %v: %s", err, out)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, want := range dataSHA256 {
		src := filepath.Join(tmp, "package", "data", name)
		if got, err := sha256File(src); err != nil || got != want {
			return fmt.Errorf("%s: sha256 %s, want %s (%v)", name, got, want, err)
		}
		if err := os.Rename(src, filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return nil
}

func sha256File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
