//! [`rebuilt`]: a component under another hash, as another build of the same code would be,
//! for tests and benches that need a new version of a module that does what the old one did.

/// `component` with a custom section added (which changes nothing it does): the same code
/// under another hash.
pub fn rebuilt(mut component: Vec<u8>) -> Vec<u8> {
    let (name, payload) = (b"cairn-rebuilt".as_slice(), b"another build".as_slice());
    // A custom section: id 0, its size, then its name (length-prefixed) and its payload; the
    // sizes are below 128, so each is one byte of LEB128.
    component.push(0);
    component.push((1 + name.len() + payload.len()) as u8);
    component.push(name.len() as u8);
    component.extend_from_slice(name);
    component.extend_from_slice(payload);
    component
}
