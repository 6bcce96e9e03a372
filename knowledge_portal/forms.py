"""Small WTForms forms that are not generated from resource specs (login, moderation, import)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from .inputs import strip_bidi

try:  # wtforms >= 3.3 wants SelectChoice objects; older versions take (value, label) pairs
    from wtforms.fields.choices import SelectChoice
except ImportError:  # pragma: no cover - older wtforms
    SelectChoice = None


def select_choices(pairs: list[tuple[str, str]]) -> list:
    """``(value, label)`` pairs in the form the installed WTForms expects."""
    if SelectChoice is None:
        return list(pairs)
    return [SelectChoice(value, label) for value, label in pairs]


class LoginForm(FlaskForm):
    username = StringField(_l("User name"), validators=[DataRequired(), Length(max=120)], filters=[strip_bidi])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=500)])


class ModerationForm(FlaskForm):
    comment = TextAreaField(_l("Comment"), validators=[Length(max=4000)], filters=[strip_bidi])


class ActionForm(FlaskForm):
    """A form with only the CSRF token, for buttons that change state."""


class CsvImportForm(FlaskForm):
    file = FileField(_l("CSV file"), validators=[FileRequired()])


class DirectoryUploadForm(FlaskForm):
    file = FileField(_l("Signed directory file (directory.vN.jws)"), validators=[FileRequired()])


class AttachmentForm(FlaskForm):
    file = FileField(_l("Attachment"), validators=[FileRequired()])


class UserForm(FlaskForm):
    """Secretariat form for accounts; an empty password keeps (or, for a new account, generates) one."""

    username = StringField(_l("User name"), validators=[DataRequired(), Length(max=120)], filters=[strip_bidi])
    role = SelectField(
        _l("Role"),
        choices=select_choices([("admin", "admin"), ("editor", "editor"), ("reviewer", "reviewer")]),
        validators=[DataRequired()],
    )
    state_code = SelectField(_l("Member state"))
    email = StringField(
        _l("E-mail"),
        validators=[
            Optional(),
            Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message=_l("Not an e-mail address.")),
            Length(max=300),
        ],
        filters=[strip_bidi],
    )
    active = BooleanField(_l("Active"), default=True)
    oidc_subject = StringField(
        _l("Single sign-on subject (sub), bound by hand; empty: bound at the first login with a verified e-mail"),
        validators=[Optional(), Length(max=300)],
    )
    password = PasswordField(
        _l("New password (at least 12 characters; empty: keep or generate)"),
        validators=[Optional(), Length(min=12, max=500)],
    )

    def validate_state_code(self, field: StringField) -> None:
        if self.role.data == "editor" and not field.data:
            raise ValidationError(str(_l("A state editor needs a member state.")))
