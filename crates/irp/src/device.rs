//! Device objects and device stacks (`DEVICE_OBJECT`, `IoAttachDeviceToDeviceStack`).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use crate::device_names;
use crate::driver::Driver;
use crate::verifier::Verifier;

/// A shared reference to a device; stacks, handles and IRPs hold these.
pub type DeviceRef = Arc<Device>;

/// Device characteristics (`Characteristics` / `Flags` of a `DEVICE_OBJECT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub struct Characteristics(u32);

impl Characteristics {
    /// None.
    pub const NONE: Characteristics = Characteristics(0);
    /// `FILE_READ_ONLY_DEVICE` / a write-protected volume: writes fail with
    /// `STATUS_MEDIA_WRITE_PROTECTED`, flushes succeed at once.
    #[doc(alias = "FILE_READ_ONLY_DEVICE")]
    pub const READ_ONLY: Characteristics = Characteristics(0x2);
    /// The device keeps a volatile write cache: a flush does real work.
    pub const VOLATILE_CACHE: Characteristics = Characteristics(0x100);
    /// The device has no durable storage at all (a RAM disk).
    pub const NOT_DURABLE: Characteristics = Characteristics(0x200);
    /// Wants `IRP_MJ_SHUTDOWN` (`IoRegisterShutdownNotification`).
    #[doc(alias = "IoRegisterShutdownNotification")]
    pub const SHUTDOWN_NOTIFY: Characteristics = Characteristics(0x400);
    /// The driver completes flushes without forwarding them, by explicit request
    /// (an `unsafe` cache mode); the verifier does not report it.
    pub const UNSAFE_FLUSH: Characteristics = Characteristics(0x800);

    /// Whether all bits of `other` are set.
    pub const fn contains(self, other: Characteristics) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for Characteristics {
    type Output = Characteristics;
    fn bitor(self, rhs: Characteristics) -> Characteristics {
        Characteristics(self.0 | rhs.0)
    }
}

/// Errors building a device stack.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// The stack would exceed [`crate::request::MAX_STACK_SIZE`].
    #[error("cannot attach {name:?}: the stack would have {size} locations (at most {max})")]
    StackTooDeep {
        /// The device being attached.
        name: String,
        /// The stack size it would have.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Alignment must be a power of two and sector size a non-zero power of two.
    #[error("device {name:?}: {what} must be a power of two, got {value}")]
    NotPowerOfTwo {
        /// The device.
        name: String,
        /// Which property.
        what: &'static str,
        /// The value given.
        value: u64,
    },
}

/// A device object: one driver instance in a stack (`DEVICE_OBJECT`).
pub struct Device {
    id: u32,
    name: String,
    driver: Box<dyn Driver>,
    lower: Option<DeviceRef>,
    upper: Mutex<Weak<Device>>,
    stack_size: usize,
    alignment: usize,
    sector_size: u32,
    characteristics: Characteristics,
    verifier: Arc<Verifier>,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("name", &self.name)
            .field("stack_size", &self.stack_size)
            .field("alignment", &self.alignment)
            .field("sector_size", &self.sector_size)
            .field("characteristics", &self.characteristics)
            .field("lower", &self.lower.as_ref().map(|l| l.name()))
            .finish()
    }
}

static NEXT_DEVICE_ID: AtomicU32 = AtomicU32::new(1);

/// Builds a device (`IoCreateDevice`), as the bottom of a new stack or attached on top
/// of one.
#[derive(Debug)]
pub struct DeviceBuilder {
    name: String,
    alignment: Option<usize>,
    sector_size: Option<u32>,
    characteristics: Characteristics,
    verifier: Option<Arc<Verifier>>,
}

impl DeviceBuilder {
    /// A device called `name`.
    #[doc(alias = "IoCreateDevice")]
    pub fn new(name: impl Into<String>) -> DeviceBuilder {
        DeviceBuilder {
            name: name.into(),
            alignment: None,
            sector_size: None,
            characteristics: Characteristics::NONE,
            verifier: None,
        }
    }

    /// Buffer alignment the device needs (`AlignmentRequirement` + 1), default 1.
    pub fn alignment(mut self, alignment: usize) -> Self {
        self.alignment = Some(alignment);
        self
    }

    /// Logical sector size (`SectorSize`), default 512.
    pub fn sector_size(mut self, sector_size: u32) -> Self {
        self.sector_size = Some(sector_size);
        self
    }

    /// Device characteristics.
    pub fn characteristics(mut self, characteristics: Characteristics) -> Self {
        self.characteristics = characteristics;
        self
    }

    /// The verifier for a new stack (default: [`Verifier::for_build`]).
    pub fn verifier(mut self, verifier: Arc<Verifier>) -> Self {
        self.verifier = Some(verifier);
        self
    }

    /// Creates the bottom device of a new stack.
    pub fn build(self, driver: impl Driver) -> Result<DeviceRef, DeviceError> {
        let verifier = self.verifier.clone().unwrap_or_else(Verifier::for_build);
        self.finish(Box::new(driver), None, verifier)
    }

    /// Creates a device and attaches it to the top of `target`'s stack
    /// (`IoAttachDeviceToDeviceStack`): its stack size is the lower device's + 1, and
    /// it inherits the alignment and sector size unless it asks for larger ones.
    #[doc(alias = "IoAttachDeviceToDeviceStack")]
    pub fn attach(self, driver: impl Driver, target: &DeviceRef) -> Result<DeviceRef, DeviceError> {
        let top = target.attached_top();
        let verifier = self.verifier.clone().unwrap_or_else(|| Arc::clone(&top.verifier));
        let device = self.finish(Box::new(driver), Some(Arc::clone(&top)), verifier)?;
        *top.upper.lock().unwrap_or_else(PoisonError::into_inner) = Arc::downgrade(&device);
        Ok(device)
    }

    fn finish(
        self,
        driver: Box<dyn Driver>,
        lower: Option<DeviceRef>,
        verifier: Arc<Verifier>,
    ) -> Result<DeviceRef, DeviceError> {
        let name = self.name;
        let stack_size = lower.as_ref().map_or(1, |l| l.stack_size + 1);
        if stack_size > crate::request::MAX_STACK_SIZE {
            return Err(DeviceError::StackTooDeep {
                name,
                size: stack_size,
                max: crate::request::MAX_STACK_SIZE,
            });
        }
        let inherited_alignment = lower.as_ref().map_or(1, |l| l.alignment);
        let inherited_sector = lower.as_ref().map_or(512, |l| l.sector_size);
        let alignment = self.alignment.unwrap_or(1).max(inherited_alignment);
        let sector_size = self.sector_size.unwrap_or(inherited_sector).max(inherited_sector);
        if !alignment.is_power_of_two() {
            return Err(DeviceError::NotPowerOfTwo { name, what: "alignment", value: alignment as u64 });
        }
        if !sector_size.is_power_of_two() {
            return Err(DeviceError::NotPowerOfTwo { name, what: "sector size", value: sector_size.into() });
        }
        let id = NEXT_DEVICE_ID.fetch_add(1, Ordering::Relaxed);
        device_names::insert(id, &name);
        Ok(Arc::new(Device {
            id,
            name,
            driver,
            lower,
            upper: Mutex::new(Weak::new()),
            stack_size,
            alignment,
            sector_size,
            characteristics: self.characteristics,
            verifier,
        }))
    }
}

impl Device {
    /// Creates the bottom device of a new stack with default properties.
    pub fn new(name: impl Into<String>, driver: impl Driver) -> DeviceRef {
        DeviceBuilder::new(name).build(driver).expect("default device properties are valid")
    }

    /// Attaches a filter with default properties on top of `target`'s stack.
    pub fn attach(
        name: impl Into<String>,
        driver: impl Driver,
        target: &DeviceRef,
    ) -> Result<DeviceRef, DeviceError> {
        DeviceBuilder::new(name).attach(driver, target)
    }

    /// The device's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A process-unique id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The driver.
    pub fn driver(&self) -> &dyn Driver {
        &*self.driver
    }

    /// The driver, if it is of type `D`.
    pub fn driver_as<D: Driver>(&self) -> Option<&D> {
        (&*self.driver as &dyn std::any::Any).downcast_ref::<D>()
    }

    /// The device below this one (`AttachedTo`), `None` at the bottom.
    pub fn lower(&self) -> Option<&DeviceRef> {
        self.lower.as_ref()
    }

    /// The bottom device of this stack.
    pub fn bottom(&self) -> &Device {
        let mut d = self;
        while let Some(l) = d.lower.as_deref() {
            d = l;
        }
        d
    }

    /// The device at the top of the stack this one belongs to (`IoGetAttachedDevice`).
    #[doc(alias = "IoGetAttachedDevice")]
    pub fn attached_top(self: &Arc<Self>) -> DeviceRef {
        let mut top = Arc::clone(self);
        loop {
            let upper = top.upper.lock().unwrap_or_else(PoisonError::into_inner).upgrade();
            match upper {
                Some(u) => top = u,
                None => return top,
            }
        }
    }

    /// Number of stack locations an IRP sent here needs (`StackSize`).
    pub fn stack_size(&self) -> usize {
        self.stack_size
    }

    /// Buffer alignment (`AlignmentRequirement` + 1).
    pub fn alignment(&self) -> usize {
        self.alignment
    }

    /// Sector size in bytes (`SectorSize`).
    pub fn sector_size(&self) -> u32 {
        self.sector_size
    }

    /// This device's own characteristics.
    pub fn characteristics(&self) -> Characteristics {
        self.characteristics
    }

    /// Whether this device or any device below it has `c`.
    pub fn stack_has(&self, c: Characteristics) -> bool {
        self.characteristics.contains(c) || self.lower.as_ref().is_some_and(|l| l.stack_has(c))
    }

    /// The verifier watching this stack.
    pub fn verifier(&self) -> &Arc<Verifier> {
        &self.verifier
    }

    pub(crate) fn active_verifier(&self) -> Option<&Arc<Verifier>> {
        self.verifier.is_enabled().then_some(&self.verifier)
    }

    /// The names of the devices from this one down, top first.
    pub fn stack_names(&self) -> Vec<String> {
        let mut v = vec![self.name.clone()];
        let mut d = self;
        while let Some(l) = d.lower.as_deref() {
            v.push(l.name.clone());
            d = l;
        }
        v
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        device_names::remove(self.id);
    }
}
