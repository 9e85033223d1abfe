// Package programme owns the communes' programmes: the `.radio` files (one
// per station, the source of truth that radioctl and the web app both
// edit), bulletins (the web form's view of one item of a file), and
// approvals (what a leader has approved airs; an officer's change waits).
//
// It exists so that these rules live once, under one lock per file, with
// one parse per save, instead of inside the HTTP handlers: the api package
// only turns requests into calls here and errors into statuses.
//
// Edits carry the version they change (Version of a file, Bulletin.Version
// of a bulletin): a stale one is refused with what changed since (Stale),
// so that two people editing one programme never silently overwrite each
// other. A change to an approved bulletin is kept beside it (Review.Pending)
// while the approved version goes on airing, until a leader approves the
// change or sends it back with a comment.
package programme
