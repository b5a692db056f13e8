//! STUB: the backend conformance suite.
