"""Signing in and out of the web interface."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from capcourse.accounts.access import Principal, principal_for_user
from capcourse.accounts.models import User
from capcourse.accounts.services import authenticate_user, end_sessions, set_password
from capcourse.accounts.throttle import sign_in_throttle
from capcourse.errors import InvalidInputError, UnauthorizedError
from capcourse.extensions import db, login_manager

pages = Blueprint("account_pages", __name__)


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The user of a session cookie, while the cookie's session version is the user's current one.

    The cookie carries ``"<id>.<version>"`` (:meth:`User.get_id`); sign-out,
    a password change and disabling raise the version, so every cookie issued
    before, copies included, stops working at once.
    """
    number, _, version = user_id.partition(".")
    if not (number.isdigit() and version.isdigit()):
        return None
    user = db.session.get(User, int(number))
    if user is None or not user.is_active or user.session_version != int(version):
        return None
    return user


def page_principal() -> Principal:
    """The signed-in person, for services (pages use ``login_required`` first)."""
    return principal_for_user(current_user._get_current_object())


def _safe_next(target: str | None) -> str:
    # Only paths on this site: an open redirect would let a link send people elsewhere.
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("catalogue_pages.programme_list")


@pages.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int] | tuple[str, int, dict[str, str]] | str:
    if request.method == "GET":
        return render_template("accounts/login.html", email="", next=request.args.get("next", ""))
    email = request.form.get("email", "").strip()
    password = request.form.get("password", "")
    if not email or not password:
        flash("Enter your email and your password.", "error")
        return render_template("accounts/login.html", email=email, next=request.form.get("next", "")), 422
    throttle = sign_in_throttle()
    address = request.remote_addr or "unknown"
    wait = throttle.wait(email, address)
    if wait:
        # The same words whichever limit was reached, and no password is checked.
        flash(f"Too many failed sign-ins for this account or from this address. Try again in {wait} seconds.", "error")
        page = render_template("accounts/login.html", email=email, next=request.form.get("next", ""))
        return page, 429, {"Retry-After": str(wait)}
    try:
        user = authenticate_user(db.session(), email, password)
    except UnauthorizedError as error:
        throttle.failed(email, address)
        flash(error.message, "error")
        return render_template("accounts/login.html", email=email, next=request.form.get("next", "")), 401
    db.session.commit()
    throttle.succeeded(email)
    login_user(user)
    return redirect(_safe_next(request.form.get("next")))


@pages.post("/logout")
def logout() -> Response:
    if current_user.is_authenticated:
        # Ends this session and every copy of its cookie (and the user's other sessions).
        end_sessions(db.session(), current_user._get_current_object())
        db.session.commit()
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("account_pages.login"))


@pages.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password() -> Response | tuple[str, int] | tuple[str, int, dict[str, str]] | str:
    """People change their own password: the current one first; every other session ends."""
    if request.method == "GET":
        return render_template("accounts/password.html")
    user: User = current_user._get_current_object()
    current = request.form.get("current_password", "")
    new = request.form.get("new_password", "")
    if new != request.form.get("confirm_password", ""):
        flash("The new password and its confirmation differ.", "error")
        return render_template("accounts/password.html"), 422
    throttle = sign_in_throttle()
    address = request.remote_addr or "unknown"
    wait = throttle.wait(user.email, address)
    if wait:
        flash(f"Too many wrong passwords. Try again in {wait} seconds.", "error")
        return render_template("accounts/password.html"), 429, {"Retry-After": str(wait)}
    try:
        authenticate_user(db.session(), user.email, current)
    except UnauthorizedError:
        # Someone at an unattended screen guessing: counted like a failed sign-in.
        throttle.failed(user.email, address)
        flash("The current password is not right.", "error")
        return render_template("accounts/password.html"), 401
    try:
        set_password(db.session(), user, new)
    except InvalidInputError as error:
        db.session.rollback()
        flash(error.message, "error")
        return render_template("accounts/password.html"), 422
    db.session.commit()
    # This browser stays signed in under the new session version; every other session has ended.
    login_user(user)
    flash("Your password is changed; you are signed out everywhere else.", "info")
    return redirect(url_for("catalogue_pages.programme_list"))


@pages.app_context_processor
def inject_user() -> dict[str, object]:
    return {"current_user": current_user}
