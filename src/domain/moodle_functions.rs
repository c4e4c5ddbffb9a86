//! The names of every external function of a standard Moodle 4.5 site, carried as data
//! (`data/moodle-functions-4.5.txt`), in one place for the access decision, the console's
//! function picker and forwarding to a site: it tells a function Moodle has, which this
//! endpoint may not implement, from a name no Moodle has.

const LIST: &str = include_str!("../../data/moodle-functions-4.5.txt");

/// Every name, sorted (the file is; a test checks it).
pub fn names() -> &'static [&'static str] {
    static NAMES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| LIST.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect())
}

/// Whether a standard Moodle 4.5 site has an external function of this name.
pub fn exists(name: &str) -> bool {
    names().binary_search(&name).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_whole_sorted_and_holds_what_we_implement() {
        assert_eq!(names().len(), 759);
        assert!(names().windows(2).all(|w| w[0] < w[1]), "sorted, no duplicates");
        for f in super::super::function_catalogue::FUNCTIONS {
            assert!(exists(f.name), "{} is a Moodle function", f.name);
        }
        assert!(exists("core_course_get_courses") && exists("tool_mobile_get_public_config"));
        assert!(!exists("core_nonexistent_function") && !exists("core_no_such_fn") && !exists(""));
    }
}
