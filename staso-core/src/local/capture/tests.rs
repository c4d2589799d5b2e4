//! Tests of the capture path (unit level; the end-to-end ones are in tests/).
