"""Small WTForms forms that are not generated from resource specs (login, moderation, import)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    username = StringField(_l("User name"), validators=[DataRequired(), Length(max=120)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=500)])


class ModerationForm(FlaskForm):
    comment = TextAreaField(_l("Comment"), validators=[Length(max=4000)])


class ActionForm(FlaskForm):
    """A form with only the CSRF token, for buttons that change state."""


class CsvImportForm(FlaskForm):
    file = FileField(_l("CSV file"), validators=[FileRequired()])


class AttachmentForm(FlaskForm):
    file = FileField(_l("Attachment"), validators=[FileRequired()])
