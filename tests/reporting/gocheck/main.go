// Command ledgercheck verifies the reporting service's signed checkpoints and Merkle proofs with
// Go's own golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog, so the Python ledger is
// checked by an independent implementation.
//
// Input (JSON on stdin):
//
//	{"vkey": "<name+hexid+base64>", "origin": "<expected origin, optional: defaults to the key name>",
//	 "checkpoint": "<signed note>", "old_checkpoint": "<signed note, optional>",
//	 "inclusion": [{"index": 0, "record": "<base64 of the exact leaf bytes>", "proof": ["<base64>", ...]}],
//	 "consistency": ["<base64>", ...],
//	 "history": [{"old": "<signed note>", "new": "<signed note>", "proof": ["<base64>", ...]}]}
//
// "history" holds pairs of historic checkpoints (fetched by tree size, GET
// /v1/ledger/checkpoints/{size}?format=note) and the consistency proof between them: each note
// is opened with the verifier key and the newer tree is checked to extend the older with tlog.CheckTree.
//
// Output: one JSON object with the parsed tree sizes and a verdict per check; exit status 1 if any
// check failed, 2 if the input could not be read.
package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type inclusion struct {
	Index  int64    `json:"index"`
	Record string   `json:"record"`
	Proof  []string `json:"proof"`
}

type historic struct {
	Old   string   `json:"old"`
	New   string   `json:"new"`
	Proof []string `json:"proof"`
}

type input struct {
	Vkey          string      `json:"vkey"`
	Origin        string      `json:"origin"`
	Checkpoint    string      `json:"checkpoint"`
	OldCheckpoint string      `json:"old_checkpoint"`
	Inclusion     []inclusion `json:"inclusion"`
	Consistency   []string    `json:"consistency"`
	History       []historic  `json:"history"`
}

type result struct {
	Check string `json:"check"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

type output struct {
	Size    int64    `json:"size"`
	Root    string   `json:"root"`
	OldSize int64    `json:"old_size"`
	Results []result `json:"results"`
	OK      bool     `json:"ok"`
}

type checkpoint struct {
	Origin string
	Tree   tlog.Tree
}

// parseCheckpoint reads C2SP tlog-checkpoint text; tlog.ParseTree only accepts Go's own
// "go.sum database tree" origin, so the lines are parsed here.
func parseCheckpoint(text string) (checkpoint, error) {
	if !strings.HasSuffix(text, "\n") {
		return checkpoint{}, errors.New("checkpoint text must end in a newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return checkpoint{}, errors.New("checkpoint needs origin, size and hash lines")
	}
	for _, l := range lines {
		if l == "" {
			return checkpoint{}, errors.New("checkpoint has an empty line")
		}
	}
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != lines[1] {
		return checkpoint{}, fmt.Errorf("bad tree size %q", lines[1])
	}
	h, err := tlog.ParseHash(lines[2])
	if err != nil {
		return checkpoint{}, err
	}
	return checkpoint{Origin: lines[0], Tree: tlog.Tree{N: n, Hash: h}}, nil
}

func openCheckpoint(msg string, v note.Verifier, origin string) (checkpoint, error) {
	n, err := note.Open([]byte(msg), note.VerifierList(v))
	if err != nil {
		return checkpoint{}, err
	}
	cp, err := parseCheckpoint(n.Text)
	if err != nil {
		return checkpoint{}, err
	}
	if cp.Origin != origin {
		return checkpoint{}, fmt.Errorf("origin %q, want %q", cp.Origin, origin)
	}
	return cp, nil
}

func parseProof(items []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, 0, len(items))
	for _, s := range items {
		h, err := tlog.ParseHash(s)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func main() {
	var in input
	dec := json.NewDecoder(os.Stdin)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		fmt.Fprintln(os.Stderr, "reading input:", err)
		os.Exit(2)
	}
	out := output{OK: true}
	add := func(check string, err error) {
		out.Results = append(out.Results, result{Check: check, OK: err == nil, Error: errString(err)})
		if err != nil {
			out.OK = false
		}
	}
	defer func() {
		enc := json.NewEncoder(os.Stdout)
		_ = enc.Encode(out)
		if !out.OK {
			os.Exit(1)
		}
	}()

	v, err := note.NewVerifier(strings.TrimSpace(in.Vkey))
	add("verifier_key", err)
	if err != nil {
		return
	}
	origin := in.Origin
	if origin == "" {
		origin = v.Name()
	}
	cp, err := openCheckpoint(in.Checkpoint, v, origin)
	add("checkpoint", err)
	if err != nil {
		return
	}
	out.Size, out.Root = cp.Tree.N, cp.Tree.Hash.String()

	for i, inc := range in.Inclusion {
		name := fmt.Sprintf("inclusion[%d]", i)
		record, err := base64.StdEncoding.DecodeString(inc.Record)
		if err != nil {
			add(name, err)
			continue
		}
		proof, err := parseProof(inc.Proof)
		if err != nil {
			add(name, err)
			continue
		}
		add(name, tlog.CheckRecord(tlog.RecordProof(proof), cp.Tree.N, cp.Tree.Hash, inc.Index, tlog.RecordHash(record)))
	}

	for i, h := range in.History {
		add(fmt.Sprintf("history[%d]", i), checkHistoric(h, v, origin))
	}

	if in.OldCheckpoint != "" {
		old, err := openCheckpoint(in.OldCheckpoint, v, origin)
		add("old_checkpoint", err)
		if err != nil {
			return
		}
		out.OldSize = old.Tree.N
		if old.Tree.N == 0 {
			// Every tree extends the empty tree; CheckTree requires n >= 1.
			empty, _ := tlog.TreeHash(0, nil)
			if old.Tree.Hash != empty {
				add("consistency", errors.New("size-0 checkpoint does not carry the empty-tree hash"))
			} else {
				add("consistency", nil)
			}
			return
		}
		proof, err := parseProof(in.Consistency)
		if err != nil {
			add("consistency", err)
			return
		}
		add("consistency", tlog.CheckTree(tlog.TreeProof(proof), cp.Tree.N, cp.Tree.Hash, old.Tree.N, old.Tree.Hash))
	}
}

// checkHistoric opens both historic checkpoints and checks that the newer tree extends the older.
func checkHistoric(h historic, v note.Verifier, origin string) error {
	old, err := openCheckpoint(h.Old, v, origin)
	if err != nil {
		return fmt.Errorf("old: %w", err)
	}
	cur, err := openCheckpoint(h.New, v, origin)
	if err != nil {
		return fmt.Errorf("new: %w", err)
	}
	if old.Tree.N < 1 || old.Tree.N > cur.Tree.N {
		return fmt.Errorf("sizes %d and %d: need 1 <= old <= new", old.Tree.N, cur.Tree.N)
	}
	proof, err := parseProof(h.Proof)
	if err != nil {
		return err
	}
	return tlog.CheckTree(tlog.TreeProof(proof), cur.Tree.N, cur.Tree.Hash, old.Tree.N, old.Tree.Hash)
}
