//! Enums stored as text: one declaration gives the stored name of each
//! variant and the checked conversion back, so the two cannot disagree.

/// Declares `as_str` and `TryFrom<String>` for an enum stored as text.
macro_rules! stored_names {
    ($type:ident { $($variant:ident = $name:literal),* $(,)? }) => {
        impl $type {
            /// The name stored in the database.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($type::$variant => $name,)*
                }
            }
        }

        impl TryFrom<String> for $type {
            type Error = $crate::StoreError;

            fn try_from(text: String) -> $crate::Result<Self> {
                match text.as_str() {
                    $($name => Ok($type::$variant),)*
                    other => Err($crate::StoreError::Corrupt {
                        what: stringify!($type),
                        id: 0,
                        reason: format!("unknown value `{other}`"),
                    }),
                }
            }
        }
    };
}

pub(crate) use stored_names;
