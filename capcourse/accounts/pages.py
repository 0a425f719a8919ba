"""Signing in and out of the web interface."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from capcourse.accounts.access import Principal, principal_for_user
from capcourse.accounts.models import User
from capcourse.accounts.services import authenticate_user
from capcourse.errors import UnauthorizedError
from capcourse.extensions import db, login_manager

pages = Blueprint("account_pages", __name__)


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.is_active else None


def page_principal() -> Principal:
    """The signed-in person, for services (pages use ``login_required`` first)."""
    return principal_for_user(current_user._get_current_object())


def _safe_next(target: str | None) -> str:
    # Only paths on this site: an open redirect would let a link send people elsewhere.
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("catalogue_pages.programme_list")


@pages.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int] | str:
    if request.method == "GET":
        return render_template("accounts/login.html", email="", next=request.args.get("next", ""))
    email = request.form.get("email", "").strip()
    password = request.form.get("password", "")
    if not email or not password:
        flash("Enter your email and your password.", "error")
        return render_template("accounts/login.html", email=email, next=request.form.get("next", "")), 422
    try:
        user = authenticate_user(db.session(), email, password)
    except UnauthorizedError as error:
        flash(error.message, "error")
        return render_template("accounts/login.html", email=email, next=request.form.get("next", "")), 401
    db.session.commit()
    login_user(user)
    return redirect(_safe_next(request.form.get("next")))


@pages.post("/logout")
def logout() -> Response:
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("account_pages.login"))


@pages.app_context_processor
def inject_user() -> dict[str, object]:
    return {"current_user": current_user}
