//! The dimensions page views are grouped and filtered by. Adding one is a
//! variant here plus the column that holds it.

use serde::{Deserialize, Serialize};

/// A property of a page view to group or filter by.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// The page path (`/cart`).
    Page,
    /// `desktop`, `mobile` or `tablet`.
    Device,
    /// Browser family (`Chrome`).
    Browser,
    /// Browser family and major version (`Chrome 120`).
    BrowserVersion,
    /// OS family (`Windows`).
    Os,
    /// OS family and version (`Windows 11`, `Android 14`).
    OsVersion,
    /// ISO 3166 country code, or `unknown`.
    Country,
    /// How the page was reached (`navigate`, `reload`, `back_forward`, `prerender`, `soft`).
    NavigationType,
}

impl Dimension {
    /// Every dimension.
    pub const ALL: [Dimension; 8] = [
        Dimension::Page,
        Dimension::Device,
        Dimension::Browser,
        Dimension::BrowserVersion,
        Dimension::Os,
        Dimension::OsVersion,
        Dimension::Country,
        Dimension::NavigationType,
    ];

    /// The name in the API and the storage column.
    pub fn name(self) -> &'static str {
        match self {
            Dimension::Page => "page",
            Dimension::Device => "device",
            Dimension::Browser => "browser",
            Dimension::BrowserVersion => "browser_version",
            Dimension::Os => "os",
            Dimension::OsVersion => "os_version",
            Dimension::Country => "country",
            Dimension::NavigationType => "navigation_type",
        }
    }

    /// Its position in [`Dimension::ALL`], for per-dimension arrays.
    pub fn index(self) -> usize {
        Dimension::ALL.iter().position(|d| *d == self).unwrap_or(0)
    }

    /// The dimension with this name.
    pub fn from_name(name: &str) -> Option<Dimension> {
        Dimension::ALL
            .into_iter()
            .find(|dimension| dimension.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for dimension in Dimension::ALL {
            assert_eq!(Dimension::from_name(dimension.name()), Some(dimension));
        }
        assert_eq!(Dimension::from_name("colour"), None);
    }
}
