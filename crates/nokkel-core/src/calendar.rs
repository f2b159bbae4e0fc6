//! Norwegian business days and the expected delivery date of an activation letter.
