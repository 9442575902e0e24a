from __future__ import annotations

from flask.views import MethodView

from ..services import patients
from . import schemas
from .context import actor, runtime
from .inputs import Blueprint

blp = Blueprint("patients", __name__, url_prefix="/api/v1/patients", description="Patients")



@blp.route("")
class Patients(MethodView):
    @blp.arguments(schemas.PatientQuery, location="query")
    @blp.response(200, schemas.Patient(many=True))
    def get(self, query):
        """Find patients by name prefix or phone"""
        return patients.search_patients(runtime(), query.get("q"), actor(), limit=query["limit"],
                                        offset=query["offset"])

    @blp.arguments(schemas.PatientCreate)
    @blp.response(201, schemas.Patient)
    @blp.alt_response(409, schema=schemas.DuplicatePatientError,
                      description="a patient with the same name (case and accents aside) and date of birth exists; "
                                  "existing_patient_id names it; send another_person: true if this is someone else")
    @blp.alt_response(422, schema=schemas.Error, description="a field is refused (a phone with letters or an "
                                                                "extension, a birth date in the future)")
    def post(self, body):
        """Register a patient"""
        return patients.create_patient(runtime(), body, actor())


@blp.route("/<int:patient_id>")
class PatientById(MethodView):
    @blp.response(200, schemas.Patient)
    def get(self, patient_id):
        """One patient"""
        return patients.get_patient(runtime(), patient_id, actor())

    @blp.arguments(schemas.PatientPatch)
    @blp.response(200, schemas.Patient)
    @blp.alt_response(422, schema=schemas.Error,
                      description="an empty body, or a field refused (a phone with letters or an extension, a birth "
                                  "date in the future)")
    @blp.alt_response(409, schema=schemas.DuplicatePatientError,
                      description="the change makes the patient another's double (name and date of birth); "
                                  "send another_person: true if they are two people")
    def patch(self, body, patient_id):
        """Change a patient's details"""
        return patients.update_patient(runtime(), patient_id, body, actor())
