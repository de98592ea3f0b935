//! What a page is called in RUM data: its path, without the query string
//! (unless the site keeps it) and never with the fragment.

/// The page of a URL: `/cart` for `https://shop.example.com/cart?id=7#top`,
/// or `/cart?id=7` when the site keeps query strings.
pub fn page_path(url: &url::Url, keep_query_string: bool) -> String {
    let mut page = url.path().to_owned();
    if keep_query_string && let Some(query) = url.query().filter(|query| !query.is_empty()) {
        page.push('?');
        page.push_str(query);
    }
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_and_fragment_are_dropped_by_default() {
        let url = url::Url::parse("https://shop.example.com/cart?id=7&u=me#top").unwrap();
        assert_eq!(page_path(&url, false), "/cart");
        assert_eq!(page_path(&url, true), "/cart?id=7&u=me");
        let root = url::Url::parse("https://shop.example.com").unwrap();
        assert_eq!(page_path(&root, true), "/");
    }
}
