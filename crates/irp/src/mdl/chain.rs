//! MDL chains: the `Next` links from `Irp->MdlAddress`.

use std::iter::FusedIterator;

use super::Mdl;

impl Mdl {
    /// The next MDL of the chain (`MDL::Next`).
    pub fn next(&self) -> Option<&Mdl> {
        self.next.as_deref()
    }

    /// The next MDL of the chain, mutably.
    pub fn next_mut(&mut self) -> Option<&mut Mdl> {
        self.next.as_deref_mut()
    }

    /// Sets the next MDL, dropping (and unlocking) the chain it replaces; use
    /// [`take_next`](Self::take_next) first to keep it.
    pub fn set_next(&mut self, next: Option<Box<Mdl>>) {
        self.next = next;
    }

    /// Unlinks and returns the rest of the chain.
    pub fn take_next(&mut self) -> Option<Box<Mdl>> {
        self.next.take()
    }

    /// Appends `mdl` (and any chain after it) at the end of this chain, as `IoAllocateMdl`
    /// does with a secondary buffer.
    #[doc(alias = "IoAllocateMdl")]
    pub fn append(&mut self, mdl: Mdl) {
        let mut last = self;
        while last.next.is_some() {
            last = last.next.as_deref_mut().expect("checked is_some");
        }
        last.next = Some(Box::new(mdl));
    }

    /// Iterates over this MDL and the ones chained after it.
    pub fn chain(&self) -> Chain<'_> {
        Chain { next: Some(self) }
    }

    /// The total byte count of this MDL and the ones chained after it.
    pub fn chain_byte_count(&self) -> usize {
        self.chain().map(Mdl::byte_count).sum()
    }
}

/// An iterator over an MDL chain, from [`Mdl::chain`].
#[derive(Debug, Clone)]
pub struct Chain<'a> {
    next: Option<&'a Mdl>,
}

impl<'a> Iterator for Chain<'a> {
    type Item = &'a Mdl;

    fn next(&mut self) -> Option<&'a Mdl> {
        let mdl = self.next?;
        self.next = mdl.next();
        Some(mdl)
    }
}

impl FusedIterator for Chain<'_> {}
