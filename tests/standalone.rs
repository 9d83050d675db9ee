//! The repository stands alone: everything the project reads is inside it. No file points
//! outside the clone (to the folder of design notes it was once built beside), and every file
//! the README's examples use exists.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every file of the source tree: build outputs and git's own files left out.
fn source_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if entry.file_type().unwrap().is_dir() {
            if name != "target" && name != ".git" {
                source_files(&path, files);
            }
        } else {
            files.push(path);
        }
    }
}

#[test]
fn no_file_reads_outside_the_repository() {
    // Spelled in two pieces so that this file does not match itself.
    let outside = [concat!("..", "/shared"), concat!("..\\", "shared")];
    let mut files = Vec::new();
    source_files(&root(), &mut files);
    assert!(files.len() > 50, "walked {} files", files.len());
    let offenders: Vec<String> = files
        .iter()
        .filter(|path| {
            let bytes = std::fs::read(path).unwrap();
            outside
                .iter()
                .any(|needle| memchr::memmem::find(&bytes, needle.as_bytes()).is_some())
        })
        .map(|path| path.strip_prefix(root()).unwrap().display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "files that point outside the repository: {offenders:?}"
    );
}

#[test]
fn readme_example_files_exist() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    // `curl -F name=@path` uploads a file: every such path is relative to the clone.
    let uploads: Vec<&str> = readme
        .split_whitespace()
        .filter_map(|word| word.split_once("=@").map(|(_, path)| path))
        .collect();
    assert!(!uploads.is_empty(), "the README shows no upload example");
    for path in uploads {
        let path = path.trim_end_matches(['\\', '`', '"', '\'']);
        assert!(
            root().join(path).is_file(),
            "README example file {path} is not in the repository"
        );
    }
    // Every `testdata/...` path the README names.
    for word in readme.split(|c: char| c.is_whitespace() || c == '`' || c == '(' || c == ')') {
        if let Some(rest) = word.strip_prefix("testdata/") {
            let path = format!("testdata/{}", rest.trim_end_matches([',', '.', ':', ';']));
            assert!(
                root().join(&path).exists(),
                "README names {path}, which is missing"
            );
        }
    }
}

#[test]
fn testdata_readme_lists_every_file() {
    let readme = std::fs::read_to_string(root().join("testdata/README.md")).unwrap();
    for dir in ["minidumps", "annotations"] {
        for entry in std::fs::read_dir(root().join("testdata").join(dir))
            .unwrap()
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            assert!(
                readme.contains(&format!("`{name}`")),
                "testdata/README.md does not name {dir}/{name} (origin and licence)"
            );
        }
    }
}
