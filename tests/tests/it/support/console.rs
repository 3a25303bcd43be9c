//! The console front-end on the test's engine, fed a script.

use mentorops_bot::console::Console;
use mentorops_core::command::{Caller, Frontend, Who};
use mentorops_worker::Mailer;

use super::TestApp;

impl TestApp {
    /// Everything the console prints for `input` typed by `who` (emails go to files in the
    /// test's directory, exports to `exports/` there).
    pub async fn console_output(&self, who: Who, input: &[u8]) -> String {
        let console = Console {
            engine: &self.engine,
            caller: Caller {
                frontend: Frontend::Console,
                who,
            },
            mailer: Mailer::Files(self.dir.path().join("mail")),
            downloads: self.dir.path().join("exports"),
            prompt: false,
        };
        let mut out = Vec::new();
        console
            .run(tokio::io::BufReader::new(input), &mut out)
            .await
            .expect("the console reads to the end");
        String::from_utf8(out).expect("utf8")
    }
}
