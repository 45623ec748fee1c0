"""Who may use `demo web`: --auth / --auth-file put the page and its API behind Gradio's login (a
test logs in through the real server), a --host beyond this machine is warned about in one line,
a bad login or flag is one line with exit code 2, and a password is never printed."""

from __future__ import annotations

import contextlib
import uuid

import httpx
import pytest

from mobilevision.cli import main
from mobilevision.demos.access import read_logins
from tests.demos.conftest import free_port, scene
from tests.demos.web_clients import WebcamStream, ask, client, write_image

USER, PASSWORD = "ana", "s3cret:with-colon"


@pytest.fixture(scope="module")
def protected_demo(checkpoints):
    """(URL, detector) of the web app on a free port of 127.0.0.1, behind the login USER:PASSWORD."""
    from mobilevision.demos.loading import load_predictors
    from mobilevision.demos.web import build_app, serve

    predictors = load_predictors([str(checkpoints["detect"])], runtime="torch")
    app = build_app(predictors, conf=0.05, published_names=[])
    yield serve(app, host="127.0.0.1", port=free_port(), auth=[(USER, PASSWORD)], block=False), predictors[0]
    app.close()


def test_a_login_is_required_and_gradios_login_route_grants_it(protected_demo, tmp_path):
    url, detector = protected_demo
    join = {"data": [None, [detector.name], ["detect"], 0.3], "fn_index": 0, "session_hash": uuid.uuid4().hex}
    # Without a login: no config, no API, no queue.
    for response in (httpx.get(f"{url}config"), httpx.get(f"{url}gradio_api/info"),
                     httpx.post(f"{url}gradio_api/queue/join", json=join)):
        assert response.status_code == 401, response.request.url
    assert httpx.post(f"{url}login", data={"username": USER, "password": "s3cret"}).status_code == 400
    login = httpx.post(f"{url}login", data={"username": USER, "password": PASSWORD})
    assert login.status_code == 200 and login.json() == {"success": True}
    assert httpx.get(f"{url}config", cookies=login.cookies).status_code == 200

    # Both endpoints answer a client that logged in.
    image = write_image(tmp_path / "scene.png", scene(1, size=(120, 160)))
    overlay, _, _, status = ask(client(url, auth=(USER, PASSWORD)), image, models=[detector.name], tasks=["detect"])
    assert overlay and "ms on" in status, status
    with contextlib.closing(WebcamStream(url, models=[detector.name], tasks=["detect"],
                                         cookies=dict(login.cookies))) as webcam:
        overlay, _, _, status = webcam.send(image)
    assert overlay and "ms on" in status, status


@pytest.mark.parametrize(("flags", "warned"), [
    ([], None),
    (["--host", "0.0.0.0"], ("mobilevision: warning: --host 0.0.0.0: anyone who can reach this machine on port "
     "7860 can use the demo; require a login with --auth-file PATH (USER:PASSWORD lines)")),
    (["--host", "0.0.0.0", "--auth", f"{USER}:{PASSWORD}"], ("mobilevision: warning: --host 0.0.0.0: the demo is "
     "open to the network on port 7860 behind a login sent over plain HTTP; serve it only on a network you trust")),
])
def test_the_command_warns_beyond_this_machine_and_passes_the_login_on(checkpoints, monkeypatch, capsys, flags,
                                                                       warned):
    import mobilevision.demos.web

    served = {}
    monkeypatch.setattr(mobilevision.demos.web, "serve", lambda app, **options: served.update(options))
    assert main(["demo", "web", "--weights", str(checkpoints["detect"]), "--runtime", "torch", *flags]) == 0
    printed = capsys.readouterr()
    warnings = [line for line in printed.err.splitlines() if "warning" in line]
    assert warnings == ([warned] if warned else [])
    assert served["host"] == (flags[1] if flags else "127.0.0.1")
    assert served["auth"] == ([(USER, PASSWORD)] if "--auth" in flags else [])
    assert PASSWORD not in printed.out + printed.err


def test_an_auth_file_holds_one_login_a_line_and_adds_to_auth(tmp_path):
    logins = tmp_path / "logins.txt"
    logins.write_text(f"# who may see the demo\n{USER}:{PASSWORD}\n\n  bo:pass word  \n")
    assert read_logins(auth_file=logins) == [(USER, PASSWORD), ("bo", "pass word")]
    assert read_logins(auth="cy:pw", auth_file=logins) == [("cy", "pw"), (USER, PASSWORD), ("bo", "pass word")]
    assert read_logins() == []


@pytest.mark.parametrize(("flags", "message"), [
    (["--auth", "just-a-password"], "--auth: not a login; write USER:PASSWORD, both non-empty"),
    (["--auth", ":pw"], "--auth: not a login; write USER:PASSWORD, both non-empty"),
    (["--auth-file", "{folder}/missing.txt"], ("--auth-file {folder}/missing.txt: cannot read it (No such file or "
     "directory); give a text file of USER:PASSWORD lines")),
    (["--auth-file", "{folder}/logins.txt"], ("--auth-file {folder}/logins.txt, line 2: not a login; write "
     "USER:PASSWORD, both non-empty")),
    (["--auth-file", "{folder}/empty.txt"], ("--auth-file {folder}/empty.txt: no login in it; write one "
     "USER:PASSWORD a line")),
])
def test_a_bad_login_is_one_line_without_the_password(tmp_path, capsys, flags, message):
    (tmp_path / "logins.txt").write_text(f"{USER}:{PASSWORD}\njust-a-password\n")
    (tmp_path / "empty.txt").write_text("# nobody yet\n")
    flags = [flag.format(folder=tmp_path) for flag in flags]
    # Refused before the weights are read: this file does not exist.
    assert main(["demo", "web", "--weights", str(tmp_path / "never-read.pt"), *flags]) == 2
    printed = capsys.readouterr()
    assert printed.err.splitlines() == [f"mobilevision: error: {message.format(folder=tmp_path)}"]
    assert "just-a-password" not in printed.out + printed.err and PASSWORD not in printed.out + printed.err


@pytest.mark.parametrize(("flag", "value", "valid"), [
    ("--port", "99999", "is not a port from 1 to 65535"),
    ("--port", "0", "is not a port from 1 to 65535"),
    ("--concurrency", "0", "is not a whole number of 1 or more"),
    ("--queue-size", "-1", "is not a whole number of 1 or more"),
])
def test_a_web_flag_out_of_range_is_one_line_and_exit_code_2(capsys, flag, value, valid):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "web", "--weights", "never-read.pt", flag, value])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        f"mobilevision demo web: error: argument {flag}: {value} {valid}"]
