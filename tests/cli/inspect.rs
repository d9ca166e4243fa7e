//! `journal inspect`
