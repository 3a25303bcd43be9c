//! People for the tests: a program with its staff, people made ready to be matched, the cast
//! the matching tests share (`world`), and chat accounts linked to them.

use mentorops_core::command::Caller;
use mentorops_core::store::{self, offers::OfferState};

use super::TestApp;

// Answers in questionnaire order: field, languages, goals, meeting, rhythm, structure, about.
pub const ANA: &[&str] = &[
    "1",
    "1,2",
    "1",
    "1",
    "1",
    "3",
    "I want my first job in software",
];
pub const MARIA: &[&str] = &[
    "1",
    "1,2",
    "1,6",
    "1",
    "1",
    "3",
    "Backend engineer, 10 years",
];
pub const LEE: &[&str] = &["1", "1", "6", "1", "2", "2", "Frontend lead"];
pub const TOM: &[&str] = &["5", "1", "3", "2", "3", "5", "Banker"];
pub const BEN: &[&str] = &["5", "1", "3", "2", "3", "5", "Finance student"];

/// Someone [`TestApp::ready`] adds to Spring, ready to be matched.
#[derive(Clone, Copy)]
pub struct Ready {
    pub name: &'static str,
    pub email: &'static str,
    pub phone: &'static str,
    pub role: &'static str,
    /// Typed to /apply, one per question.
    pub answers: &'static [&'static str],
    /// The Telegram account linked to them.
    pub chat: &'static str,
}

pub const MARIA_MENTOR: Ready = Ready {
    name: "Maria Mentor",
    email: "maria@example.org",
    phone: "+14155550601",
    role: "mentor",
    answers: MARIA,
    chat: "m-maria",
};
pub const LEE_MENTOR: Ready = Ready {
    name: "Lee Mentor",
    email: "lee@example.org",
    phone: "+14155550602",
    role: "mentor",
    answers: LEE,
    chat: "m-lee",
};
pub const TOM_MENTOR: Ready = Ready {
    name: "Tom Mentor",
    email: "tom@example.org",
    phone: "+14155550603",
    role: "mentor",
    answers: TOM,
    chat: "m-tom",
};
pub const ANA_MENTEE: Ready = Ready {
    name: "Ana Mentee",
    email: "ana@example.org",
    phone: "+14155550611",
    role: "mentee",
    answers: ANA,
    chat: "e-ana",
};
pub const BEN_MENTEE: Ready = Ready {
    name: "Ben Mentee",
    email: "ben@example.org",
    phone: "+14155550612",
    role: "mentee",
    answers: BEN,
    chat: "e-ben",
};

pub struct World {
    pub ana: Caller,
    pub ben: Caller,
    pub maria: Caller,
    pub lee: Caller,
    pub tom: Caller,
}

/// Spring with its staff, three mentors and two mentees, all ready to be matched.
pub async fn world(app: &TestApp) -> World {
    app.with_program().await;
    World {
        maria: app.ready(MARIA_MENTOR).await,
        lee: app.ready(LEE_MENTOR).await,
        tom: app.ready(TOM_MENTOR).await,
        ana: app.ready(ANA_MENTEE).await,
        ben: app.ready(BEN_MENTEE).await,
    }
}

/// The personas of the world's mentors: Maria, Lee and Tom.
pub async fn world_mentors(app: &TestApp) -> (i64, i64, i64) {
    (
        persona_of(app, "maria@example.org").await,
        persona_of(app, "lee@example.org").await,
        persona_of(app, "tom@example.org").await,
    )
}

/// The personas of the world's mentees: Ana and Ben.
pub async fn world_mentees(app: &TestApp) -> (i64, i64) {
    (
        persona_of(app, "ana@example.org").await,
        persona_of(app, "ben@example.org").await,
    )
}

/// Ana (mentee, chat account 7001), Maria (7002) and Lee (7003), mentors, ready to be matched;
/// returns Ana.
pub async fn ana_maria_and_lee(app: &TestApp) -> Caller {
    let ana = app
        .ready(Ready {
            phone: "+14155550501",
            chat: "7001",
            ..ANA_MENTEE
        })
        .await;
    app.ready(Ready {
        chat: "7002",
        ..MARIA_MENTOR
    })
    .await;
    app.ready(Ready {
        chat: "7003",
        ..LEE_MENTOR
    })
    .await;
    ana
}

/// Ana asks Maria (after `/mentors`); the pending offer.
pub async fn ana_chooses_maria(app: &TestApp, ana: &Caller) -> store::offers::Offer {
    let maria = persona_of(app, "maria@example.org").await;
    app.run(ana, "/mentors").await.expect("mentors");
    app.run(ana, &format!("/choose #{maria}"))
        .await
        .expect("choose");
    pending_of(app, "ana@example.org").await.expect("offer")
}

/// Ana, Maria and Lee ready ([`ana_maria_and_lee`]), and Ana's offer to Maria: its id.
pub async fn offer_to_maria(app: &TestApp) -> i64 {
    let ana = ana_maria_and_lee(app).await;
    ana_chooses_maria(app, &ana).await.id
}

pub async fn persona_of(app: &TestApp, email: &str) -> i64 {
    app.personas(email).await[0].id
}

pub async fn offers_of(app: &TestApp, email: &str) -> Vec<store::offers::Offer> {
    let pid = persona_of(app, email).await;
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    let mut v = store::offers::of_mentee(&mut c, pid).await.expect("offers");
    v.sort_by_key(|o| (o.round, o.rank));
    v
}

pub async fn pending_of(app: &TestApp, email: &str) -> Option<store::offers::Offer> {
    offers_of(app, email)
        .await
        .into_iter()
        .find(|o| o.state == OfferState::Pending)
}

impl TestApp {
    /// Adds a mentor or mentee to Spring who links the chat account `chat` and answers the
    /// questionnaire (`answers`, one per question, as typed to /apply): AI → SI.
    pub async fn applicant(
        &self,
        name: &str,
        email: &str,
        phone: &str,
        role: &str,
        answers: &[&str],
        chat: &str,
    ) -> Caller {
        self.admin(&format!(
            "/user_add \"{name}\" {email} {phone} {role} program:Spring"
        ))
        .await;
        let code = self.code_for(email).await;
        let caller = self.chat(chat);
        assert!(self.run(&caller, &format!("/link {code}")).await.is_ok());
        for a in answers {
            let r = self
                .run(
                    &caller,
                    &format!("/apply {}", mentorops_core::command::quote(a)),
                )
                .await;
            assert!(r.is_ok(), "{email} /apply {a}: {r:?}");
        }
        caller
    }

    /// [`TestApp::applicant`], then made A and RTBM by staff.
    pub async fn ready_person(
        &self,
        name: &str,
        email: &str,
        phone: &str,
        role: &str,
        answers: &[&str],
        chat: &str,
    ) -> Caller {
        let caller = self
            .applicant(name, email, phone, role, answers, chat)
            .await;
        self.admin(&format!("/status {email} A")).await;
        self.admin(&format!("/match_status {email} RTBM")).await;
        caller
    }

    /// A program "Spring" in org "Acme", with a program manager and coordinator for it.
    pub async fn with_program(&self) {
        self.admin("/org_add Acme").await;
        self.admin("/program_add Acme Spring").await;
        self.admin(
            "/staff_add \"Paula Pm\" pm@example.org +14155550101 program_manager program:Spring",
        )
        .await;
        self.admin(
            "/staff_add \"Sara Sc\" sc@example.org +14155550102 success_coordinator program:Spring",
        )
        .await;
    }

    /// A test app on SQLite with [`TestApp::with_program`] and Ana Lima (mentee, AI) in Spring:
    /// where the front-ends' tests start.
    pub async fn sqlite_with_ana() -> TestApp {
        let app = TestApp::sqlite().await;
        app.with_program().await;
        app.admin("/user_add \"Ana Lima\" ana@example.org +14155550801 mentee program:Spring")
            .await;
        app
    }

    /// [`TestApp::ready_person`] for one of the cast above.
    pub async fn ready(&self, p: Ready) -> Caller {
        self.ready_person(p.name, p.email, p.phone, p.role, p.answers, p.chat)
            .await
    }

    /// A fresh link code for `email`.
    pub async fn link_code(&self, email: &str) -> String {
        mentorops_core::bootstrap::new_link_code(&self.engine, email)
            .await
            .expect("code")
            .to_string()
    }

    /// Links the Telegram account `account` to `email` with a fresh code, through the core.
    pub async fn link_chat(&self, email: &str, account: &str) -> Caller {
        let code = self.link_code(email).await;
        let chat = self.chat(account);
        let linked = self.run(&chat, &format!("/link {code}")).await;
        assert!(linked.is_ok(), "{linked:?}");
        chat
    }

    /// `n` active people, each linked to the Telegram chat `first_chat + i` (emails
    /// `p{i}@{domain}`, phones from `first_phone`), written straight to the store; each
    /// person's (user id, chat id).
    pub async fn linked_telegram_people(
        &self,
        n: i64,
        first_chat: i64,
        domain: &str,
        first_phone: i64,
    ) -> Vec<(i64, i64)> {
        use mentorops_core::values::{Email, ExternalId, FullName, Phone};
        let mut c = self.engine.db().pool().acquire().await.expect("conn");
        let now = self.engine.now();
        let mut out = Vec::new();
        for i in 0..n {
            let email = Email::parse(&format!("p{i}@{domain}")).expect("email");
            let phone =
                Phone::parse(&format!("+55119{:08}", first_phone + i), None).expect("phone");
            let name = FullName::parse(&format!("Person {i}")).expect("name");
            let user = store::users::NewUser {
                email: &email,
                phone: &phone,
                external_id: &ExternalId::from_phone(&phone),
                full_name: &name,
                status: mentorops_core::status::UserStatus::Active,
                org_id: None,
            };
            let uid = store::users::insert_user(&mut c, &user, now)
                .await
                .expect("user");
            let chat = first_chat + i;
            store::links::insert_link(&mut c, "telegram", &chat.to_string(), None, uid, now)
                .await
                .expect("link");
            out.push((uid, chat));
        }
        out
    }
}
