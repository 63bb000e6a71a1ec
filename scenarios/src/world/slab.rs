//! A slab: values parked under a `u64` key that travels in a kernel event's payload (house
//! style: an event is 16 bytes, larger payloads live in the world), with freed slots reused so
//! a steady run allocates nothing.

/// Values parked by [`Slab::insert`] until [`Slab::take`].
pub(crate) struct Slab<T> {
    slots: Vec<Option<T>>,
    free: Vec<u32>,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T> Slab<T> {
    /// Parks `v`; the key is its slot.
    pub(crate) fn insert(&mut self, v: T) -> u64 {
        match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(v);
                u64::from(i)
            }
            None => {
                self.slots.push(Some(v));
                (self.slots.len() - 1) as u64
            }
        }
    }

    /// Takes the value parked under `key` and frees its slot.
    ///
    /// # Panics
    /// If nothing is parked there (a key used twice).
    pub(crate) fn take(&mut self, key: u64) -> T {
        let v = self.slots[key as usize].take().expect("a live slab slot");
        self.free.push(key as u32);
        v
    }
}
