//! Behaviour and UI tests of the staso attributes.
