from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from ..services import patients
from . import schemas
from .context import ALL_ROLES, actor, roles, runtime

blp = Blueprint("patients", __name__, url_prefix="/api/v1/patients", description="Patients")

WRITERS = ("front_desk", "admin")


@blp.route("")
class Patients(MethodView):
    @roles(*ALL_ROLES)
    @blp.arguments(schemas.PatientQuery, location="query")
    @blp.response(200, schemas.Patient(many=True))
    def get(self, query):
        """Find patients by name prefix or phone"""
        return patients.search_patients(runtime(), query.get("q"), limit=query["limit"], offset=query["offset"])

    @roles(*WRITERS)
    @blp.arguments(schemas.PatientCreate)
    @blp.response(201, schemas.Patient)
    def post(self, body):
        """Register a patient"""
        return patients.create_patient(runtime(), body, actor())


@blp.route("/<int:patient_id>")
class PatientById(MethodView):
    @roles(*ALL_ROLES)
    @blp.response(200, schemas.Patient)
    def get(self, patient_id):
        """One patient"""
        return patients.get_patient(runtime(), patient_id)

    @roles(*WRITERS)
    @blp.arguments(schemas.PatientFields)
    @blp.response(200, schemas.Patient)
    def patch(self, body, patient_id):
        """Change a patient's details"""
        return patients.update_patient(runtime(), patient_id, body, actor())
