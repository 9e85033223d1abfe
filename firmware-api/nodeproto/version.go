// Package nodeproto holds the wire types of the node <-> controller protocol
// described normatively in firmware-api/PROTOCOL.md. It is the one package the
// controller and the node daemon share; it has no dependencies beyond the
// standard library so that firmware in Go can vendor it alone.
package nodeproto

// Version is the protocol version carried in every topic ("radio/v1/...").
//
// It is bumped only for a change an existing node cannot ignore: a removed or
// renamed field, a changed meaning, a new required step in the join sequence.
// Adding an optional JSON field or a new command type (which old nodes reject
// with CodeUnsupported) does not bump it.
//
// History:
//   - 1 (2026-11-22): first version: state, desired state, signed commands,
//     chunked content delivery with repair, proof-of-play outbox with acks.
const Version = 1
