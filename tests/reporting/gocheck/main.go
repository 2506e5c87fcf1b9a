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
//	 "history": [{"old": "<signed note>", "new": "<signed note>", "proof": ["<base64>", ...]}],
//	 "leaves": [{"entry": {<an entry of GET /v1/ledger as an agency sees it>}, "proof": ["<base64>", ...]}],
//	 "witness_vkeys": ["<name+hexid+base64(0x04 || public key)>", ...], "cosigned": "<note>",
//	 "announced": [{"record": {<the data of a ledger-topic entry_shared.v2 record>}, "proof": ["<base64>", ...]}]}
//
// "history" holds pairs of historic checkpoints (fetched by tree size, GET
// /v1/ledger/checkpoints/{size}?format=note) and the consistency proof between them: each note
// is opened with the verifier key and the newer tree is checked to extend the older with tlog.CheckTree.
//
// "leaves" are version-2 entries (docs/ledger.md): the leaf is recomputed from the filtered view
// alone (the granted fields' disclosures, hashed here, and the digests of the others) and checked
// to be included in the checkpoint's tree with tlog.CheckRecord. The disclosed values must be
// exactly the entry's "data".
//
// "cosigned" is a checkpoint served with witness cosignatures (C2SP tlog-cosignature): note.Open
// must verify it with the log's key and with every witness key (cosignature/v1 verifiers, which
// golang.org/x/mod/sumdb/note lets a caller supply as note.Verifier implementations).
//
// "announced" are the ledger topic's records (docs/ledger.md, "The ledger topic"): each record's
// leaf_hash is parsed with tlog.ParseHash, which accepts only the encoding the checkpoints and every
// proof use (standard base64 of 32 bytes), must be written exactly as tlog.Hash.String writes it,
// and is checked to be in the checkpoint's tree at the record's index with tlog.CheckRecord.
//
// Output: one JSON object with the parsed tree sizes and a verdict per check; exit status 1 if any
// check failed, 2 if the input could not be read.
package main

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type inclusion struct {
	Index  int64    `json:"index"`
	Record string   `json:"record"`
	Proof  []string `json:"proof"`
}

// A ledger-topic record (entry_shared.v2), every field named: the input is read with
// DisallowUnknownFields, so a record under other names (v1's source_event_*) is refused. Index and
// leaf_hash are checked against the log; the others are the source event's, not hashed here.
type announcedRecord struct {
	Index       int64          `json:"index"`
	LeafHash    string         `json:"leaf_hash"`
	LeafVersion *int           `json:"leaf_version"`
	EventID     string         `json:"event_id"`
	EventSource string         `json:"event_source"`
	EventType   string         `json:"event_type"`
	Subject     *string        `json:"subject"`
	EventTime   string         `json:"event_time"`
	RecordedAt  string         `json:"recorded_at"`
	Data        map[string]any `json:"data"`
}

type announced struct {
	Record announcedRecord `json:"record"`
	Proof  []string        `json:"proof"`
}

type historic struct {
	Old   string   `json:"old"`
	New   string   `json:"new"`
	Proof []string `json:"proof"`
}

type leafCheck struct {
	Entry entry    `json:"entry"`
	Proof []string `json:"proof"`
}

type entry struct {
	Index              int64             `json:"index"`
	EventID            string            `json:"event_id"`
	EventSource        string            `json:"event_source"`
	EventType          string            `json:"event_type"`
	Subject            *string           `json:"subject"`
	EventTime          string            `json:"event_time"`
	LeafHash           string            `json:"leaf_hash"`
	LeafVersion        int               `json:"leaf_version"`
	Data               map[string]any    `json:"data"`
	Disclosures        map[string]string `json:"disclosures"`
	UndisclosedDigests map[string]string `json:"undisclosed_digests"`
	// served too, not part of the leaf
	RecordedAt  string `json:"recorded_at"`
	LeafHashHex string `json:"leaf_hash_hex"`
}

type input struct {
	Vkey          string      `json:"vkey"`
	Origin        string      `json:"origin"`
	Checkpoint    string      `json:"checkpoint"`
	OldCheckpoint string      `json:"old_checkpoint"`
	Inclusion     []inclusion `json:"inclusion"`
	Consistency   []string    `json:"consistency"`
	History       []historic  `json:"history"`
	Leaves        []leafCheck `json:"leaves"`
	WitnessVkeys  []string    `json:"witness_vkeys"`
	Cosigned      string      `json:"cosigned"`
	Announced     []announced `json:"announced"`
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
	// names of the keys whose signatures on "cosigned" verified (the log's and the witnesses')
	Cosigners []string `json:"cosigners,omitempty"`
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

func checkAnnounced(a announced, cp checkpoint) error {
	h, err := tlog.ParseHash(a.Record.LeafHash)
	if err != nil {
		return fmt.Errorf("leaf_hash: %w", err)
	}
	if h.String() != a.Record.LeafHash {
		return errors.New("leaf_hash is not written as tlog.Hash.String writes it")
	}
	proof, err := parseProof(a.Proof)
	if err != nil {
		return err
	}
	return tlog.CheckRecord(tlog.RecordProof(proof), cp.Tree.N, cp.Tree.Hash, a.Record.Index, h)
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

	for i, lc := range in.Leaves {
		add(fmt.Sprintf("leaf[%d]", i), checkLeaf(lc, cp))
	}

	for i, a := range in.Announced {
		add(fmt.Sprintf("announced[%d]", i), checkAnnounced(a, cp))
	}

	if in.Cosigned != "" {
		names, err := checkCosigned(in.Cosigned, v, in.WitnessVkeys, origin)
		out.Cosigners = names
		add("cosigned", err)
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

// --- version-2 leaves, recomputed from an agency's filtered view ----------------------------------

// jcsString writes s as RFC 8785 does: only '"', '\\' and control characters are escaped.
func jcsString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 {
				fmt.Fprintf(b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}

// utf16Less orders object keys as RFC 8785 does: by UTF-16 code units.
func utf16Less(a, b string) bool {
	ua, ub := utf16.Encode([]rune(a)), utf16.Encode([]rune(b))
	for i := 0; i < len(ua) && i < len(ub); i++ {
		if ua[i] != ub[i] {
			return ua[i] < ub[i]
		}
	}
	return len(ua) < len(ub)
}

// leafTime is the leaf's "time": UTC, microseconds only when not zero, "Z".
func leafTime(text string) (string, error) {
	t, err := time.Parse(time.RFC3339Nano, text)
	if err != nil {
		return "", err
	}
	t = t.UTC()
	out := t.Format("2006-01-02T15:04:05")
	if us := t.Nanosecond() / 1000; us != 0 {
		out += fmt.Sprintf(".%06d", us)
	}
	return out + "Z", nil
}

func setPath(into map[string]any, path string, value any) error {
	parts := strings.Split(path, ".")
	cur := into
	for _, p := range parts[:len(parts)-1] {
		next, ok := cur[p]
		if !ok {
			m := map[string]any{}
			cur[p] = m
			cur = m
			continue
		}
		m, ok := next.(map[string]any)
		if !ok {
			return fmt.Errorf("path %q crosses a value", path)
		}
		cur = m
	}
	last := parts[len(parts)-1]
	if _, dup := cur[last]; dup {
		return fmt.Errorf("path %q disclosed twice", path)
	}
	cur[last] = value
	return nil
}

// recomputeLeaf builds the version-2 leaf bytes from what an agency is shown.
func recomputeLeaf(e entry) ([]byte, error) {
	if e.LeafVersion != 2 {
		return nil, fmt.Errorf("leaf version %d: only version 2 is recomputable from a filtered view", e.LeafVersion)
	}
	digests := map[string]string{}
	disclosed := map[string]any{}
	for path, b64 := range e.Disclosures {
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("disclosure %q: %w", path, err)
		}
		var triple []any
		if err := json.Unmarshal(raw, &triple); err != nil || len(triple) != 3 {
			return nil, fmt.Errorf("disclosure %q is not [salt, path, value]", path)
		}
		salt, _ := triple[0].(string)
		named, _ := triple[1].(string)
		if named != path {
			return nil, fmt.Errorf("disclosure %q names path %q", path, named)
		}
		if saltBytes, err := base64.StdEncoding.DecodeString(salt); err != nil || len(saltBytes) < 16 {
			return nil, fmt.Errorf("disclosure %q: salt shorter than 128 bits", path)
		}
		sum := sha256.Sum256(raw)
		digests[path] = base64.StdEncoding.EncodeToString(sum[:])
		if err := setPath(disclosed, path, triple[2]); err != nil {
			return nil, err
		}
	}
	for path, d := range e.UndisclosedDigests {
		if _, dup := digests[path]; dup {
			return nil, fmt.Errorf("field %q both disclosed and undisclosed", path)
		}
		digests[path] = d
	}
	data := e.Data
	if data == nil {
		data = map[string]any{}
	}
	if !reflect.DeepEqual(disclosed, data) {
		return nil, errors.New("the disclosed values are not the entry's data")
	}
	when, err := leafTime(e.EventTime)
	if err != nil {
		return nil, err
	}
	paths := make([]string, 0, len(digests))
	for p := range digests {
		paths = append(paths, p)
	}
	sort.Slice(paths, func(i, j int) bool { return utf16Less(paths[i], paths[j]) })
	var b strings.Builder
	b.WriteString(`{"fields":{`)
	for i, p := range paths {
		if i > 0 {
			b.WriteByte(',')
		}
		jcsString(&b, p)
		b.WriteByte(':')
		jcsString(&b, digests[p])
	}
	b.WriteString(`},"id":`)
	jcsString(&b, e.EventID)
	b.WriteString(`,"source":`)
	jcsString(&b, e.EventSource)
	b.WriteString(`,"subject":`)
	if e.Subject == nil {
		b.WriteString("null")
	} else {
		jcsString(&b, *e.Subject)
	}
	b.WriteString(`,"time":`)
	jcsString(&b, when)
	b.WriteString(`,"type":`)
	jcsString(&b, e.EventType)
	b.WriteString(`,"v":2}`)
	return []byte(b.String()), nil
}

func checkLeaf(lc leafCheck, cp checkpoint) error {
	leaf, err := recomputeLeaf(lc.Entry)
	if err != nil {
		return err
	}
	hash := tlog.RecordHash(leaf)
	if lc.Entry.LeafHash != "" && hash.String() != lc.Entry.LeafHash {
		return fmt.Errorf("recomputed leaf hash %s, served %s", hash, lc.Entry.LeafHash)
	}
	proof, err := parseProof(lc.Proof)
	if err != nil {
		return err
	}
	return tlog.CheckRecord(tlog.RecordProof(proof), cp.Tree.N, cp.Tree.Hash, lc.Entry.Index, hash)
}

// --- witness cosignatures (C2SP tlog-cosignature, Ed25519 cosignature/v1) --------------------------

const algCosignatureV1 = 0x04

type cosignatureV1Verifier struct {
	name string
	hash uint32
	key  ed25519.PublicKey
}

func (v cosignatureV1Verifier) Name() string    { return v.name }
func (v cosignatureV1Verifier) KeyHash() uint32 { return v.hash }

// Verify checks sig = u64 big-endian timestamp || Ed25519 signature over
// "cosignature/v1\ntime <timestamp>\n" || the note text.
func (v cosignatureV1Verifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	ts := binary.BigEndian.Uint64(sig[:8])
	if ts > 1<<63-1 {
		return false
	}
	signed := append([]byte(fmt.Sprintf("cosignature/v1\ntime %d\n", ts)), msg...)
	return ed25519.Verify(v.key, signed, sig[8:])
}

func newCosignatureV1Verifier(vkey string) (note.Verifier, error) {
	parts := strings.SplitN(strings.TrimSpace(vkey), "+", 3)
	if len(parts) != 3 {
		return nil, errors.New("witness key must be name+hexid+base64")
	}
	name, hexID, b64 := parts[0], parts[1], parts[2]
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != 1+ed25519.PublicKeySize || raw[0] != algCosignatureV1 {
		return nil, errors.New("witness key must be an Ed25519 cosignature/v1 key (type 0x04)")
	}
	id, err := strconv.ParseUint(hexID, 16, 32)
	if err != nil || len(hexID) != 8 {
		return nil, errors.New("witness key ID must be 8 hex digits")
	}
	sum := sha256.Sum256(append([]byte(name+"\n"), raw...))
	hash := binary.BigEndian.Uint32(sum[:4])
	if uint32(id) != hash {
		return nil, errors.New("witness key ID does not match the key")
	}
	return cosignatureV1Verifier{name: name, hash: hash, key: ed25519.PublicKey(raw[1:])}, nil
}

// checkCosigned opens the note with the log's key and every witness key, and requires each of them
// to have signed it (note.Open itself requires every known key's signature to verify).
func checkCosigned(msg string, logKey note.Verifier, witnessKeys []string, origin string) ([]string, error) {
	verifiers := []note.Verifier{logKey}
	for _, k := range witnessKeys {
		w, err := newCosignatureV1Verifier(k)
		if err != nil {
			return nil, err
		}
		verifiers = append(verifiers, w)
	}
	n, err := note.Open([]byte(msg), note.VerifierList(verifiers...))
	if err != nil {
		return nil, err
	}
	signed := map[string]bool{}
	var names []string
	for _, sig := range n.Sigs {
		signed[fmt.Sprintf("%s+%08x", sig.Name, sig.Hash)] = true
		names = append(names, sig.Name)
	}
	for _, v := range verifiers {
		if !signed[fmt.Sprintf("%s+%08x", v.Name(), v.KeyHash())] {
			return names, fmt.Errorf("no verified signature by %s", v.Name())
		}
	}
	cp, err := parseCheckpoint(n.Text)
	if err != nil {
		return names, err
	}
	if cp.Origin != origin {
		return names, fmt.Errorf("origin %q, want %q", cp.Origin, origin)
	}
	return names, nil
}
