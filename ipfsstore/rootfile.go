package ipfsstore

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/ipfs/go-cid"

	"github.com/noms-ipfs/noms-ipfs/chunks"
)

// rootState is the store's persisted mutable state. It lives in a local
// file, replaced atomically (write, fsync, rename, fsync directory), so a
// crash leaves either the old or the new root, never a torn one.
type rootState struct {
	// ID names this database in its keep nodes, so that what keeps other
	// databases on the same node is never touched.
	ID   string      `json:"id"`
	Root chunks.Hash `json:"root"`
	// Keep is the pinned keep root that names every chunk the database
	// has written (keep.go); undefined until the first write.
	Keep cid.Cid `json:"keep,omitzero"`
	// Retired are pins of keep nodes that Keep has replaced (each names a
	// subset of what Keep names), still to be unpinned.
	Retired []cid.Cid `json:"retired,omitempty"`
	// Format is formatKeep for stores kept by a keep root; earlier
	// versions (0) kept their root with an MFS entry or a recursive pin,
	// which Open converts.
	Format int `json:"format,omitempty"`
}

const formatKeep = 2

// rootFile reads and writes rootState under dir, serialising writers of
// all processes with an exclusive flock on dir/lock.
type rootFile struct {
	dir string
}

const (
	rootFileName   = "root.json"
	lockFileName   = "lock"
	intentFileName = "keep.intent"
)

func openRootFile(dir string) (*rootFile, rootState, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, rootState{}, fmt.Errorf("cannot create state directory %s: %w", dir, err)
	}
	f := &rootFile{dir: dir}
	var st rootState
	err := f.locked(func() error {
		var err error
		st, err = f.read()
		if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		var id [8]byte
		if _, err := rand.Read(id[:]); err != nil {
			return err
		}
		st = rootState{ID: hex.EncodeToString(id[:]), Format: formatKeep}
		return f.write(st)
	})
	return f, st, err
}

// read returns the persisted state.
func (f *rootFile) read() (rootState, error) {
	var st rootState
	b, err := os.ReadFile(filepath.Join(f.dir, rootFileName))
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("cannot parse root file %s: %w", filepath.Join(f.dir, rootFileName), err)
	}
	if st.ID == "" {
		return st, fmt.Errorf("root file %s has no database id", filepath.Join(f.dir, rootFileName))
	}
	return st, nil
}

// write replaces the persisted state atomically. Callers hold the lock.
func (f *rootFile) write(st rootState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(f.dir, rootFileName+".tmp*")
	if err != nil {
		return fmt.Errorf("cannot write root: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("cannot write root: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("cannot sync root: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("cannot write root: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(f.dir, rootFileName)); err != nil {
		return fmt.Errorf("cannot replace root: %w", err)
	}
	return syncDir(f.dir)
}

// locked runs fn holding the exclusive lock shared by every process that
// opens this directory. The lock is released when fn returns, or by the
// kernel if the process dies.
func (f *rootFile) locked(fn func() error) error {
	lf, err := os.OpenFile(filepath.Join(f.dir, lockFileName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("cannot open lock file: %w", err)
	}
	defer lf.Close()
	for {
		err = syscall.Flock(int(lf.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("cannot lock %s: %w", lf.Name(), err)
	}
	defer syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)
	return fn()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("cannot sync directory %s: %w", dir, err)
	}
	return nil
}

// A keep intent lists the pins a write is about to create and drop, so that
// if the process dies half way the next Open (under the lock) removes all of
// them but the one the root file names (see Store.recover). It is written
// without fsync: it need only survive the process, not the machine; a power
// loss at that moment at worst leaves a pin that keeps the garbage of one
// write.
type keepIntent struct {
	Pins []cid.Cid `json:"pins"`
}

func (f *rootFile) writeIntent(in keepIntent) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(f.dir, intentFileName), b, 0o600); err != nil {
		return fmt.Errorf("cannot write keep intent: %w", err)
	}
	return nil
}

// readIntent returns the intent a write left, ok false when there is none.
// A torn or unreadable file is an error wrapping errBadIntent.
func (f *rootFile) readIntent() (in keepIntent, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(f.dir, intentFileName))
	if errors.Is(err, os.ErrNotExist) {
		return in, false, nil
	}
	if err != nil {
		return in, false, fmt.Errorf("cannot read keep intent: %w", err)
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return in, true, fmt.Errorf("%w: %w", errBadIntent, err)
	}
	return in, true, nil
}

func (f *rootFile) clearIntent() error {
	err := os.Remove(filepath.Join(f.dir, intentFileName))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("cannot remove keep intent: %w", err)
	}
	return nil
}

var errBadIntent = errors.New("unreadable keep intent")
