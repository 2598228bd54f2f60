use super::support::*;

#[tokio::test]
async fn runs_a_command_in_the_sandbox() {
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(ws.path().join("hello.txt"), "hi there").unwrap();
    let ex = executor(ws.path());
    let out = run(
        &ex,
        ws.path(),
        "cat hello.txt; echo; id; pwd; hostname; ls /; echo pid=$$",
    )
    .await;
    println!("{}", text(&out));
    assert_eq!(out.exit_code, Some(0), "{}", text(&out));
    assert!(text(&out).contains("hi there"));
}
