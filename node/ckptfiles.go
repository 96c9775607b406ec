package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// Incremental checkpoints of states kept as files (plan.State.SaveFiles:
// the window's state in a Pebble backend). Such a state's part of a
// checkpoint object is a manifest (filesPart, JSON): the state's head
// bytes and, per file of its checkpoint directory, the object in
// CheckpointBucket that holds it. Immutable files (Pebble's SSTs, *.sst)
// are stored once and listed again by later checkpoints while the store
// keeps them; the small MANIFEST, OPTIONS and marker files are stored
// with every checkpoint. So the catalog commits the checkpoint object's
// digest, the object carries the manifest, and a checkpoint stores bytes
// in proportion to what changed since the last one. Objects:
//
//	<pipeline>/<node>/files/<state>/<generation>/<name>.sst
//	<pipeline>/<node>/files/<state>/<generation>/<seq>/<name>   (other files)
//
// A generation is a random id that changes whenever the store is
// restored (start-up, rollback): Pebble reuses file numbers after it
// returns to an older checkpoint, so names are unique only within one.
// After a commit the objects the previous checkpoint listed and the new
// one does not are deleted; at start-up and after a rollback every
// object under the state's prefix that the committed checkpoint does not
// list (left by a checkpoint that failed before its commit) is deleted.

// ckptFile is one file of a state's checkpoint.
type ckptFile struct {
	Name   string `json:"name"`   // in the checkpoint directory
	Object string `json:"object"` // in CheckpointBucket
	Size   int64  `json:"size"`
	Digest string `json:"digest"` // the object store's (SHA-256)
}

// filesPart is the manifest of a state's files in a checkpoint object.
type filesPart struct {
	Head  []byte     `json:"head"`
	Files []ckptFile `json:"files"`
}

// fileStore stores the checkpoints of one file state of one node.
type fileStore struct {
	obs    jetstream.ObjectStore
	prefix string // <pipeline>/<node>/files/<state>/
	gen    string
	stored map[string]ckptFile // SSTs stored in this generation or listed by last, by name
	last   filesPart           // the committed checkpoint's manifest
	dir    string              // a local copy of its files: what a rollback restores
}

func newFileStore(obs jetstream.ObjectStore, pipeline, node, state string) *fileStore {
	f := &fileStore{obs: obs, prefix: pipeline + "/" + node + "/files/" + state + "/"}
	f.newGeneration()
	return f
}

// newGeneration starts a generation after a restore: only the files of
// the restored checkpoint are known to be stored.
func (f *fileStore) newGeneration() {
	var b [8]byte
	_, _ = rand.Read(b[:])
	f.gen = hex.EncodeToString(b[:])
	f.stored = map[string]ckptFile{}
	for _, cf := range f.last.Files {
		if isSST(cf.Name) {
			f.stored[cf.Name] = cf
		}
	}
}

func isSST(name string) bool { return strings.HasSuffix(name, ".sst") }

// objectChunk is the chunk size of stored files (1 MiB beats the 128 KiB
// default, see DESIGN.md).
const objectChunk = 1 << 20

// upload stores the files of the checkpoint directory dir not stored
// before and returns the manifest and the bytes it stored.
func (f *fileStore) upload(ctx context.Context, seq uint64, head []byte, dir string) (filesPart, int64, error) {
	part := filesPart{Head: head}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return part, 0, fmt.Errorf("checkpoint files: %w", err)
	}
	var sent int64
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return part, sent, fmt.Errorf("checkpoint files: %w", err)
		}
		name := e.Name()
		if cf, ok := f.stored[name]; ok && cf.Size == info.Size() {
			part.Files = append(part.Files, cf)
			continue
		}
		obj := f.prefix + f.gen + "/" + name
		if !isSST(name) {
			obj = f.prefix + f.gen + "/" + strconv.FormatUint(seq, 10) + "/" + name
		}
		cf, err := f.put(ctx, obj, filepath.Join(dir, name))
		if err != nil {
			return part, sent, err
		}
		cf.Name = name
		if isSST(name) {
			f.stored[name] = cf
		}
		sent += cf.Size
		part.Files = append(part.Files, cf)
	}
	return part, sent, nil
}

func (f *fileStore) put(ctx context.Context, obj, path string) (ckptFile, error) {
	r, err := os.Open(path)
	if err != nil {
		return ckptFile{}, fmt.Errorf("checkpoint files: %w", err)
	}
	defer r.Close()
	info, err := f.obs.Put(ctx, jetstream.ObjectMeta{Name: obj, Opts: &jetstream.ObjectMetaOptions{ChunkSize: objectChunk}}, r)
	if err != nil {
		return ckptFile{}, fmt.Errorf("checkpoint files: put %s: %w", obj, err)
	}
	return ckptFile{Object: obj, Size: int64(info.Size), Digest: info.Digest}, nil
}

// fetch downloads a manifest's files into a new local directory, each
// checked against the manifest's digest, and returns it.
func (f *fileStore) fetch(ctx context.Context, part filesPart) (string, error) {
	dir, err := os.MkdirTemp("", "pcs-ckpt-*")
	if err != nil {
		return "", fmt.Errorf("checkpoint files: %w", err)
	}
	for _, cf := range part.Files {
		if err := f.get(ctx, cf, filepath.Join(dir, cf.Name)); err != nil {
			os.RemoveAll(dir)
			return "", err
		}
	}
	return dir, nil
}

func (f *fileStore) get(ctx context.Context, cf ckptFile, path string) error {
	if cf.Name != filepath.Base(cf.Name) || cf.Name == "." || cf.Name == ".." {
		return fmt.Errorf("checkpoint files: bad file name %q", cf.Name)
	}
	res, err := f.obs.Get(ctx, cf.Object)
	if err != nil {
		return fmt.Errorf("checkpoint files: get %s: %w", cf.Object, err)
	}
	defer res.Close()
	info, err := res.Info()
	if err != nil {
		return fmt.Errorf("checkpoint files: get %s: %w", cf.Object, err)
	}
	if info.Digest != cf.Digest {
		return fmt.Errorf("checkpoint files: %s: digest %s differs from the manifest's %s", cf.Object, info.Digest, cf.Digest)
	}
	w, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("checkpoint files: %w", err)
	}
	_, err = io.Copy(w, res) // the reader checks the object's digest at its end
	if err = errors.Join(err, w.Close()); err != nil {
		return fmt.Errorf("checkpoint files: get %s: %w", cf.Object, err)
	}
	return nil
}

// committed makes part (with its local copy dir) the committed
// checkpoint: the objects only the previous one listed are deleted, and
// its local copy removed.
func (f *fileStore) committed(ctx context.Context, part filesPart, dir string, log *slog.Logger) {
	keep := map[string]bool{}
	for _, cf := range part.Files {
		keep[cf.Object] = true
	}
	for _, cf := range f.last.Files {
		if !keep[cf.Object] {
			f.drop(ctx, cf.Object, log)
		}
	}
	f.setLast(part, dir)
}

// setLast records the committed checkpoint and its local copy.
func (f *fileStore) setLast(part filesPart, dir string) {
	if f.dir != "" && f.dir != dir {
		os.RemoveAll(f.dir)
	}
	f.last, f.dir = part, dir
}

// sweep deletes the objects under the state's prefix that the committed
// checkpoint does not list.
func (f *fileStore) sweep(ctx context.Context, log *slog.Logger) {
	objs, err := f.obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return
	}
	if err != nil {
		log.Warn("checkpoint files not swept", "err", err)
		return
	}
	keep := map[string]bool{}
	for _, cf := range f.last.Files {
		keep[cf.Object] = true
	}
	for _, o := range objs {
		if strings.HasPrefix(o.Name, f.prefix) && !keep[o.Name] {
			f.drop(ctx, o.Name, log)
		}
	}
}

func (f *fileStore) drop(ctx context.Context, obj string, log *slog.Logger) {
	if err := f.obs.Delete(ctx, obj); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		log.Warn("checkpoint file not deleted", "object", obj, "err", err)
	}
}

// close removes the local copy.
func (f *fileStore) close() {
	if f.dir != "" {
		os.RemoveAll(f.dir)
	}
}

func encodePart(p filesPart) ([]byte, error) { return json.Marshal(p) }

func decodePart(b []byte) (filesPart, error) {
	var p filesPart
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("checkpoint files: manifest: %w", err)
	}
	return p, nil
}
