//! Login, tokens, userinfo and logout, step by step as in the reference transcript
//! `01-login.json` (MediaWiki 1.39).

mod common;

use common::*;
use serde_json::{json, Value};

/// The reference wiki's settings that show in these answers: `user` may upload by URL there,
/// and the `noupload` group exists.
const CONFIG: &str = "[group_permissions.user]\nupload_by_url = true\n";

/// Rights of `Alice@bot` (the user's rights intersected with the upload grants).
const ALICE_BOT_RIGHTS: &[&str] = &[
    "read",
    "edit",
    "createpage",
    "createtalk",
    "writeapi",
    "move",
    "move-subpages",
    "move-rootuserpages",
    "move-categorypages",
    "movefile",
    "upload",
    "reupload",
    "reupload-shared",
    "minoredit",
    "purge",
    "applychangetags",
    "changetags",
    "editcontentmodel",
    "upload_by_url",
    "autoconfirmed",
    "editsemiprotected",
];

const BAD_LOGIN: &str = "Incorrect username or password entered. Please try again.";

async fn do_login(c: &Client, name: &str, password: &str, token: &str) -> Resp {
    c.post(&[
        ("format", "json"),
        ("action", "login"),
        ("lgname", name),
        ("lgpassword", password),
        ("lgtoken", token),
    ])
    .await
}

#[tokio::test]
async fn login_flow_with_bot_password() {
    let server = Server::start_with_config(CONFIG);
    server.add_user("Alice", "alice-password-1", "");
    server.add_user("Bob", "bob-password-1", "");
    let (lgname, lgpassword) = server.bot_password("Alice", "bot", BOT_GRANTS);
    let mut c = Check::new(&server);
    let alice = Client::new(&server);

    c.step("01#0 anonymous csrf token is the constant +\\");
    let (st, h, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("meta", "tokens"),
            ("type", "csrf"),
        ])
        .await;
    c.eq("status", st, 200);
    c.json(
        "body",
        &v,
        &json!({"batchcomplete": "", "query": {"tokens": {"csrftoken": "+\\"}}}),
    );
    c.eq(
        "Content-Type",
        header(&h, "content-type").as_str(),
        "application/json; charset=utf-8",
    );
    c.eq(
        "X-Content-Type-Options",
        header(&h, "x-content-type-options").as_str(),
        "nosniff",
    );
    c.eq(
        "X-Frame-Options",
        header(&h, "x-frame-options").as_str(),
        "DENY",
    );
    c.eq(
        "Content-Disposition",
        header(&h, "content-disposition").as_str(),
        "inline; filename=api-result.json",
    );

    c.step("01#1 meta=tokens type=login sets the session cookie");
    let (h, token) = alice.login_token().await;
    c.ok(
        "logintoken format",
        is_token(&Value::String(token.clone())),
        &token,
    );
    let cookies = set_cookies(&h);
    c.ok(
        "session cookie set (path=/; HttpOnly)",
        cookies.iter().any(|s| {
            s.starts_with("mwstore_session=") && s.contains("path=/") && s.contains("HttpOnly")
        }),
        format!("{cookies:?}"),
    );

    c.step("01#2 action=login with bot password Alice@bot");
    let (st, h, v) = do_login(&alice, &lgname, &lgpassword, &token).await;
    c.eq("status", st, 200);
    c.eq("lgname", lgname.as_str(), "Alice@bot");
    c.eq(
        "keys",
        keys(&v["login"]),
        vec!["result".into(), "lguserid".into(), "lgusername".into()],
    );
    c.eq("result", &v["login"]["result"], &json!("Success"));
    c.eq("lgusername", &v["login"]["lgusername"], &json!("Alice"));
    c.ok(
        "lguserid is a positive integer",
        v["login"]["lguserid"].as_i64().unwrap_or(0) > 0,
        &v,
    );
    let alice_id = v["login"]["lguserid"].as_i64().unwrap_or(0);
    let cookies = set_cookies(&h);
    c.ok(
        "BPsession cookie set",
        cookies
            .iter()
            .any(|s| s.starts_with("mwstore_BPsession=") && s.contains("HttpOnly")),
        format!("{cookies:?}"),
    );

    c.step("01#3 meta=tokens (csrf, default type)");
    let (_, _, v) = alice
        .get(&[("format", "json"), ("action", "query"), ("meta", "tokens")])
        .await;
    c.eq("batchcomplete", &v["batchcomplete"], &json!(""));
    let csrf = v["query"]["tokens"]["csrftoken"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    c.ok(
        "csrftoken format",
        is_token(&v["query"]["tokens"]["csrftoken"]),
        &v,
    );
    c.eq(
        "only csrftoken",
        keys(&v["query"]["tokens"]),
        vec!["csrftoken".to_owned()],
    );

    c.step("01#4 meta=tokens, several types at once");
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("meta", "tokens"),
            (
                "type",
                "csrf|login|watch|patrol|rollback|userrights|createaccount",
            ),
        ])
        .await;
    let t = &v["query"]["tokens"];
    c.eq(
        "token keys",
        keys(t),
        [
            "csrftoken",
            "logintoken",
            "watchtoken",
            "patroltoken",
            "rollbacktoken",
            "userrightstoken",
            "createaccounttoken",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>(),
    );
    for k in keys(t) {
        c.ok(&format!("{k} format"), is_token(&t[&k]), &t[&k]);
    }
    c.ok(
        "csrf and watch tokens differ",
        t["csrftoken"] != t["watchtoken"],
        t,
    );

    c.step("01#5 meta=userinfo uiprop=groups|rights (rights limited by the grants)");
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("meta", "userinfo"),
            ("uiprop", "groups|rights"),
        ])
        .await;
    c.json(
        "body",
        &v,
        &json!({"batchcomplete": "", "query": {"userinfo": {
            "id": alice_id, "name": "Alice",
            "groups": ["*", "user", "autoconfirmed"],
            "rights": ALICE_BOT_RIGHTS}}}),
    );

    c.step("01#6 meta=userinfo with more props, formatversion=2");
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("meta", "userinfo"),
            (
                "uiprop",
                "groups|rights|blockinfo|editcount|ratelimits|registrationdate|implicitgroups|groupmemberships",
            ),
            ("formatversion", "2"),
        ])
        .await;
    c.eq("batchcomplete", &v["batchcomplete"], &json!(true));
    let ui = &v["query"]["userinfo"];
    c.eq(
        "userinfo keys",
        keys(ui),
        [
            "id",
            "name",
            "groups",
            "groupmemberships",
            "implicitgroups",
            "rights",
            "editcount",
            "ratelimits",
            "registrationdate",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>(),
    );
    c.json(
        "groups",
        &ui["groups"],
        &json!(["*", "user", "autoconfirmed"]),
    );
    c.json("groupmemberships", &ui["groupmemberships"], &json!([]));
    c.json(
        "implicitgroups",
        &ui["implicitgroups"],
        &json!(["*", "user", "autoconfirmed"]),
    );
    c.json("rights", &ui["rights"], &json!(ALICE_BOT_RIGHTS));
    c.json("editcount", &ui["editcount"], &json!(0));
    c.ok(
        "ratelimits is an object",
        ui["ratelimits"].is_object(),
        &ui["ratelimits"],
    );
    c.ok(
        "registrationdate ISO",
        is_iso_ts(&ui["registrationdate"]),
        &ui["registrationdate"],
    );

    c.step("01#7 assert=user while logged in");
    let (_, h, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("meta", "userinfo"),
            ("assert", "user"),
        ])
        .await;
    c.eq(
        "no error header",
        header(&h, "mediawiki-api-error").as_str(),
        "",
    );
    c.json(
        "body",
        &v,
        &json!({"batchcomplete": "", "query": {"userinfo": {"id": alice_id, "name": "Alice"}}}),
    );

    c.step("01#8 assertuser=Bob while logged in as Alice");
    let r = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("meta", "userinfo"),
            ("assertuser", "Bob"),
        ])
        .await;
    c.error(
        &r,
        "assertnameduserfailed",
        Some("You are no longer logged in as \"Bob\", so the action could not be completed."),
    );

    c.step("01#26 action=logout");
    let logout_token = csrf.clone();
    let (st, h, v) = alice
        .post(&[
            ("format", "json"),
            ("action", "logout"),
            ("token", &logout_token),
        ])
        .await;
    c.eq("status", st, 200);
    c.json("body", &v, &json!({}));
    let cookies = set_cookies(&h);
    c.ok(
        "BPsession cookie deleted",
        cookies
            .iter()
            .any(|s| s.starts_with("mwstore_BPsession=deleted") && s.contains("Max-Age=0")),
        format!("{cookies:?}"),
    );

    c.step("01#27 userinfo after logout");
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("meta", "userinfo"),
        ])
        .await;
    c.json(
        "body",
        &v,
        &json!({"batchcomplete": "", "query": {"userinfo": {"id": 0, "name": "127.0.0.1", "anon": ""}}}),
    );

    c.step("01#28 assert=user when anonymous");
    let r = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("meta", "userinfo"),
            ("assert", "user"),
        ])
        .await;
    c.error(
        &r,
        "assertuserfailed",
        Some("You are no longer logged in, so the action could not be completed."),
    );

    c.step("logout invalidates the old csrf token");
    let r = alice
        .post_multipart(
            &[
                ("action", "upload"),
                ("format", "json"),
                ("filename", "After-logout.png"),
                ("token", &logout_token),
            ],
            vec![FilePart {
                field: "file",
                filename: "x.png",
                content_type: None,
                data: make_png(4, 4, 1),
            }],
        )
        .await;
    c.error(&r, "badtoken", Some("Invalid CSRF token."));
    c.finish();
}

#[tokio::test]
async fn login_failures() {
    let server = Server::start_with_config(CONFIG);
    server.add_user("Alice", "alice-password-1", "");
    let (lgname, lgpassword) = server.bot_password("Alice", "bot", BOT_GRANTS);
    let mut c = Check::new(&server);

    c.step("01#9-10 action=login with a wrong bot password");
    let anon = Client::new(&server);
    let (_, token) = anon.login_token().await;
    let (_, _, v) = do_login(
        &anon,
        "Alice@bot",
        "0123456789abcdef0123456789abcdef",
        &token,
    )
    .await;
    c.json(
        "body",
        &v,
        &json!({"login": {"result": "Failed", "reason": BAD_LOGIN}}),
    );

    c.step("01#11 login token again (same session, same token)");
    let (_, token2) = anon.login_token().await;
    // A token is an HMAC over the session secret and the current second, followed by that
    // second in hex: within one second the session's token is the same string, and one
    // fetched a second later differs only because the time did.
    let stamp = |t: &str| t.get(32..40).map(str::to_owned).unwrap_or_default();
    if stamp(&token2) == stamp(&token) {
        c.eq(
            "login token unchanged within the session",
            token2.as_str(),
            token.as_str(),
        );
    } else {
        c.ok(
            "a later token is of the same shape",
            token2.len() == token.len() && token2.ends_with("+\\"),
            &token2,
        );
    }

    c.step("01#12 action=login for a non-existent user");
    let (_, _, v) = do_login(&anon, "NoSuchUser@bot", &lgpassword, &token).await;
    c.json(
        "body",
        &v,
        &json!({"login": {"result": "Failed", "reason": BAD_LOGIN}}),
    );

    c.step("01#13 action=login without lgtoken (fresh session)");
    let fresh = Client::new(&server);
    let (_, h, v) = fresh
        .post(&[
            ("format", "json"),
            ("action", "login"),
            ("lgname", &lgname),
            ("lgpassword", &lgpassword),
        ])
        .await;
    c.eq(
        "top-level keys",
        keys(&v),
        vec!["warnings".into(), "login".into()],
    );
    c.json(
        "warnings",
        &v["warnings"],
        &json!({
            "main": {"*": DEPRECATION_HELP},
            "login": {"*": "Fetching a token via \"action=login\" is deprecated. Use \"action=query&meta=tokens&type=login\" instead."}
        }),
    );
    c.eq("result", &v["login"]["result"], &json!("NeedToken"));
    c.ok("token format", is_token(&v["login"]["token"]), &v["login"]);
    c.eq(
        "login keys",
        keys(&v["login"]),
        vec!["result".into(), "token".into()],
    );
    c.ok(
        "session cookie set",
        set_cookies(&h)
            .iter()
            .any(|s| s.starts_with("mwstore_session=")),
        format!("{:?}", set_cookies(&h)),
    );
    c.step("01#13b the NeedToken token logs in");
    let need = v["login"]["token"].as_str().unwrap_or("").to_owned();
    let (_, _, v) = do_login(&fresh, &lgname, &lgpassword, &need).await;
    c.eq("result", &v["login"]["result"], &json!("Success"));

    c.step("01#14 action=login with a wrong lgtoken");
    let anon2 = Client::new(&server);
    let _ = anon2.login_token().await;
    let (_, _, v) = do_login(&anon2, &lgname, &lgpassword, "deadbeef+\\").await;
    c.json("body", &v, &json!({"login": {"result": "WrongToken"}}));

    c.step("01#15 action=login via GET");
    let r = anon2
        .get(&[
            ("format", "json"),
            ("action", "login"),
            ("lgname", &lgname),
            ("lgpassword", &lgpassword),
        ])
        .await;
    c.error(
        &r,
        "mustbeposted",
        Some("The \"login\" module requires a POST request."),
    );

    c.step("01#16-17 action=login with the MAIN account password");
    let main = Client::new(&server);
    let (_, token) = main.login_token().await;
    let (_, h, v) = do_login(&main, "Alice", "alice-password-1", &token).await;
    c.json(
        "warnings",
        &v["warnings"],
        &json!({
            "main": {"*": DEPRECATION_HELP},
            "login": {"*": "Main-account login via \"action=login\" is deprecated and may stop working without warning. To continue login with \"action=login\", see [[Special:BotPasswords]]. To safely continue using main-account login, see \"action=clientlogin\"."}
        }),
    );
    c.eq("result", &v["login"]["result"], &json!("Success"));
    c.eq("lgusername", &v["login"]["lgusername"], &json!("Alice"));
    let alice_id = v["login"]["lguserid"].clone();
    let cookies = set_cookies(&h);
    // MediaWiki also sets <prefix>Token for its persistent "remember me" login; mwstore
    // offers no persistent logins (its sessions slide for a day), so it sets no such cookie.
    for name in ["mwstore_session=", "mwstoreUserID=", "mwstoreUserName="] {
        c.ok(
            &format!("cookie {name}"),
            cookies.iter().any(|s| s.starts_with(name)),
            format!("{cookies:?}"),
        );
    }

    c.step("01#18 userinfo after main-password login");
    let (_, _, v) = main
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("meta", "userinfo"),
        ])
        .await;
    c.json(
        "body",
        &v,
        &json!({"batchcomplete": "", "query": {"userinfo": {"id": alice_id, "name": "Alice"}}}),
    );

    c.step("01#19-20 alternate bot-password form lgname=Alice lgpassword=bot@<botpassword>");
    let alt = Client::new(&server);
    let (_, token) = alt.login_token().await;
    let (_, h, v) = do_login(&alt, "Alice", &format!("bot@{lgpassword}"), &token).await;
    c.json(
        "body",
        &v,
        &json!({"login": {"result": "Success", "lguserid": alice_id, "lgusername": "Alice"}}),
    );
    c.ok(
        "BPsession cookie",
        set_cookies(&h)
            .iter()
            .any(|s| s.starts_with("mwstore_BPsession=")),
        format!("{:?}", set_cookies(&h)),
    );

    c.step("01#21-22 32-char password outside [0-9a-w] with '@' name is not a bot password");
    let bad = Client::new(&server);
    let (_, token) = bad.login_token().await;
    let (_, _, v) = do_login(
        &bad,
        "Alice@bot",
        "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ",
        &token,
    )
    .await;
    c.json(
        "body",
        &v,
        &json!({"login": {"result": "Failed", "reason": BAD_LOGIN}}),
    );
    c.finish();
}

#[tokio::test]
async fn readonly_bot_password_rights() {
    let server = Server::start_with_config(CONFIG);
    server.add_user("Alice", "alice-password-1", "");
    let mut c = Check::new(&server);

    c.step("01#23-24 login as Alice@readonly (grant basic only)");
    let (n, p) = server.bot_password("Alice", "readonly", "basic");
    let mut ro = Client::new(&server);
    let v = ro.login(&n, &p).await;
    c.eq("result", &v["login"]["result"], &json!("Success"));
    c.eq("lgusername", &v["login"]["lgusername"], &json!("Alice"));

    c.step("01#25 userinfo of a bot password without upload grants");
    let (_, _, v) = ro
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("meta", "userinfo"),
            ("uiprop", "groups|rights"),
        ])
        .await;
    c.json(
        "groups",
        &v["query"]["userinfo"]["groups"],
        &json!(["*", "user", "autoconfirmed"]),
    );
    c.json(
        "rights",
        &v["query"]["userinfo"]["rights"],
        &json!([
            "read",
            "writeapi",
            "purge",
            "autoconfirmed",
            "editsemiprotected"
        ]),
    );
    c.finish();
}
